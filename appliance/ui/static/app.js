// The page's entry module. Screens arrive with the desktop UI; for now: the sites list.
async function api(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error} (${body.hint})`);
  return body;
}

async function main() {
  const status = document.getElementById("status");
  try {
    const sites = await api("/api/sites");
    status.textContent = `${sites.length} site(s)`;
    const table = document.createElement("table");
    for (const site of sites) {
      const row = table.insertRow();
      row.insertCell().textContent = site.name;
      row.insertCell().textContent = `${site.hosts.length} host(s)`;
    }
    status.after(table);
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

main();
