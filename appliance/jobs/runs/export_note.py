"""The README.md of an exported folder (export.py): what is in it, how to run it with
ansible-runner or AWX, and how to give the engine the credentials that were left out."""

from __future__ import annotations

from typing import Any

KIND_WORDS = {
    "ssh_key": "an SSH private key",
    "password": "an SSH password",
    "become_password": "a become (sudo) password",
}


def readme(export: Any) -> str:
    """``export`` is an ``export.Export``."""
    total = len(export.steps)
    steps = "\n".join(f"- {s.title(total)}" for s in export.steps)
    extra = ", ".join(f"`{k}`" for k in sorted(export.extravars))
    kept = (
        "Kept in the inventory instead (connection settings, and values some host sets "
        "differently, which an extra var would override): "
        + ", ".join(f"`{k}`" for k in export.inventory_vars)
        + ".\n"
        if export.inventory_vars
        else ""
    )
    return f"""# {export.action} {export.bundle} {export.version} on site {export.site}

Written by `appliance export`: the run the appliance would start now (installed before:
{export.installed_version or "nothing"}), as an
[ansible-runner](https://docs.ansible.com/projects/runner/) private data folder.

| Path | What |
|---|---|
| `project/` | the bundle's files, as signed (`bundle.yml`, `bundle.sig` and every listed file) |
| `project/{export.playbook}` | the plan: one `import_playbook` per step, in order (not signed) |
| `inventory/hosts.yml` | the site's hosts, groups and connection settings |
| `env/extravars` | the site's configuration values and what the appliance passes every step |
| `env/envvars` | `ANSIBLE_HOST_KEY_CHECKING: True`, as the appliance runs |

## The plan
{steps}

Each step is tagged `step-N`. The appliance runs each step as its own ansible-runner
invocation and stops at the first failure; here a failed step ends the playbook the same way.

## Run it with ansible-runner
```sh
ansible-runner run {export.path} -p {export.playbook}
```
Output goes to the terminal and to `artifacts/<id>/` (`stdout`, `rc`, `status`, `job_events/`).
To resume after step N-1 failed and was fixed, run the remaining steps only, e.g. from step 3:
`--cmdline '--tags step-3,step-4,...'` (up to step-{total}). An upgrade's backup is written
under `backup_id` (`{export.extravars.get("backup_id")}` in `env/extravars`): do not re-run the
backup step after a component step changed the site, or that backup is overwritten.

Extra variables (they outrank every other variable): {extra}.
{kept}
## Credentials: not exported
{_credentials(export)}
## Run it on AWX / Automation Platform
- Project: put `project/` in a Git repository (or, for a Manual project, in the controller's
  projects folder, `/var/lib/awx/projects/<name>/`) and create a Project from it.
- Inventory: create an inventory and import `inventory/hosts.yml` into it
  (`awx-manage inventory_import --source inventory/hosts.yml --inventory-name <name>`), or
  commit the file to the repository and add it as an inventory source sourced from the project.
- Job template: that project, playbook `{export.playbook}`, that inventory, the contents of
  `env/extravars` as its variables, and a Machine credential (above).
- Hosts with `ansible_connection: local` run inside AWX's execution environment, not on the
  laptop: give them a real address instead.
"""


def _credentials(export: Any) -> str:
    lines = []
    if export.credentials:
        kinds = ", ".join(KIND_WORDS.get(k, k) for k in export.credentials)
        lines.append(
            f"The site has {kinds} in the appliance; they stay there (encrypted). Give them "
            "to the engine:"
        )
    else:
        lines.append(
            "The site has no credentials in the appliance (the hosts are local, or log in with "
            "the user's own SSH keys). If the engine needs some:"
        )
    lines += [
        "- ansible-runner: an SSH key as the file `env/ssh_key` (ansible-runner loads it into "
        "an ssh-agent); passwords as `env/passwords` (a map of prompt pattern to answer, e.g. "
        '`"^SSH password:\\\\s*?$": ...` and `"^BECOME password.*:\\\\s*?$": ...`) together '
        "with `--ask-pass` / `--ask-become-pass` in `env/cmdline`. Remove these files after "
        "the run.",
        "- AWX: a Machine credential (username, SSH private key or password, privilege "
        "escalation password) on the job template.",
    ]
    if export.left_out:
        names = ", ".join(f"`{n}`" for n in export.left_out)
        lines.append(
            f"- Left out of the inventory and the extra variables: {names} (passwords in "
            "variables); supply them as above."
        )
    return "\n".join(lines) + "\n"
