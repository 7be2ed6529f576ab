/*
 * The one file's launcher: starts like a folder, stays one file.
 *
 * dist/appliance = this program (static) + a payload (the PyInstaller onedir build, packed by
 * packaging/onefile/pack.py) + a trailer naming the build by the payload's sha256. The first
 * launch unpacks the payload into a private per-user cache folder named by that hash; every
 * launch checks the folder cheaply (the marker written last must name this build and every
 * file it lists must have the recorded type, size and mtime) and execs the onedir executable
 * there with the same argv (argv[0] kept: the faces pick themselves by name). A folder that
 * fails the check (tampered with, half-written, damaged) is moved aside, removed and unpacked
 * again. Unpacking writes into a temporary folder renamed into place only when complete, so
 * concurrent first launches never see each other's half-written folder.
 *
 * Cache: $XDG_CACHE_HOME/appliance/<build hash> (else $HOME/.cache/...), the appliance folder
 * mode 0700 and owned by the user, or the launch is refused.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAGIC "APPLIANCE-ONEDIR"
#define MAGIC_LEN 16
#define ID_LEN 64
#define TRAILER_LEN (MAGIC_LEN + 8 + 8 + ID_LEN)
#define MARKER ".appliance-complete"
#define ENTRY "appliance"
#define BUF_SIZE (1 << 20)

static char exe_path[4096];

static void die(const char *what, const char *path, int err) {
    fprintf(stderr, "appliance: %s %s: %s\n", what, path ? path : "", err ? strerror(err) : "");
    if (err == ENOSPC || err == EDQUOT)
        fprintf(stderr, "Hint: free some space in the cache folder (or set XDG_CACHE_HOME to a "
                        "folder with room); the appliance unpacks itself there once.\n");
    else
        fprintf(stderr, "Hint: set XDG_CACHE_HOME to a private folder of yours (the appliance "
                        "unpacks itself there once), or download the appliance again.\n");
    exit(127);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* mkdir -p of the cache root; the last component (the appliance folder) must be private. */
static void make_private_root(char *root) {
    for (char *p = root + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(root, 0700) != 0 && errno != EEXIST) die("cannot create", root, errno);
        *p = '/';
    }
    if (mkdir(root, 0700) != 0 && errno != EEXIST) die("cannot create", root, errno);
    struct stat st;
    if (lstat(root, &st) != 0) die("cannot read", root, errno);
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
        fprintf(stderr,
                "appliance: %s is not a private folder of this user (it must be a folder owned "
                "by you, not writable by others)\nHint: remove it, or set XDG_CACHE_HOME to a "
                "private folder.\n",
                root);
        exit(127);
    }
}

/* The marker, renamed into place once everything else is written: "appliance-onedir 1 <id>\n",
 * then "<type> <size> <mtime s> <mtime ns> <path>\n" per file or link, then "end\n". */
static int cache_is_sound(const char *dir, const char *id) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, MARKER);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int ok = 0;
    if (fgets(line, sizeof line, f)) {
        char expected[128];
        snprintf(expected, sizeof expected, "appliance-onedir 1 %s\n", id);
        ok = strcmp(line, expected) == 0;
    }
    long entries = 0;
    int ended = 0;
    while (ok && fgets(line, sizeof line, f)) {
        if (ended) { ok = 0; break; }
        if (strcmp(line, "end\n") == 0) { ended = 1; continue; }
        char type;
        long long size, sec, nsec;
        int used = 0;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') { ok = 0; break; }
        line[len - 1] = '\0';
        if (sscanf(line, "%c %lld %lld %lld %n", &type, &size, &sec, &nsec, &used) != 4 || !used) {
            ok = 0;
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, line + used);
        struct stat st;
        if (lstat(path, &st) != 0) { ok = 0; break; }
        if (type == 'f')
            ok = S_ISREG(st.st_mode) && st.st_size == size && st.st_mtim.tv_sec == sec &&
                 st.st_mtim.tv_nsec == nsec;
        else if (type == 'l')
            ok = S_ISLNK(st.st_mode) && st.st_size == size;
        else
            ok = 0;
        entries++;
    }
    fclose(f);
    return ok && ended && entries > 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    if (flag == FTW_DP) {
        chmod(path, 0700);
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    }
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_tree(const char *path) {
    nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* Unpacking folders left by launches that died (their pid is gone): 400 MB each. */
static void remove_abandoned(const char *root) {
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = 0;
        if (sscanf(e->d_name, ".unpacking-%ld-", &pid) != 1 || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        remove_tree(path);
    }
    closedir(d);
}

static void read_exact(int fd, void *buf, size_t len, const char *what) {
    unsigned char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("damaged executable (payload ends early):", what, n < 0 ? errno : 0);
        p += n;
        len -= (size_t)n;
    }
}

static void write_all(int fd, const void *buf, size_t len, const char *path) {
    const unsigned char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("cannot write", path, errno);
        p += n;
        len -= (size_t)n;
    }
}

static int safe_relpath(const char *p) {
    if (!*p || *p == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s += n + (e ? 1 : 0);
    }
    return 1;
}

/* Record: type u8 ('d','f','l'), mode u32, path length u32, data length u64, path, data. */
static void unpack(int self, uint64_t offset, uint64_t length, const char *dir, const char *id) {
    if (lseek(self, (off_t)offset, SEEK_SET) < 0) die("cannot read", exe_path, errno);
    char marker_path[8192], final_marker[8192];
    snprintf(marker_path, sizeof marker_path, "%s/%s.partial", dir, MARKER);
    snprintf(final_marker, sizeof final_marker, "%s/%s", dir, MARKER);
    FILE *marker = fopen(marker_path, "w");
    if (!marker) die("cannot write", marker_path, errno);
    fprintf(marker, "appliance-onedir 1 %s\n", id);
    char *buf = malloc(BUF_SIZE);
    if (!buf) die("out of memory", "", ENOMEM);
    uint64_t done = 0;
    while (done < length) {
        unsigned char head[17];
        read_exact(self, head, sizeof head, "record");
        char type = (char)head[0];
        uint32_t mode = le32(head + 1) & 07777, plen = le32(head + 5);
        uint64_t dlen = le64(head + 9);
        if (plen == 0 || plen > 4000) die("damaged executable (bad record)", "", 0);
        char rel[4096], path[8192];
        read_exact(self, rel, plen, "path");
        rel[plen] = '\0';
        if (!safe_relpath(rel) || strchr(rel, '\n')) die("damaged executable (bad path)", rel, 0);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (type == 'd') {
            if (mkdir(path, 0700) != 0 && errno != EEXIST) die("cannot create", path, errno);
        } else if (type == 'l') {
            char target[4096];
            if (dlen >= sizeof target) die("damaged executable (bad link)", rel, 0);
            read_exact(self, target, dlen, "link");
            target[dlen] = '\0';
            if (symlink(target, path) != 0) die("cannot create", path, errno);
            fprintf(marker, "l %llu 0 0 %s\n", (unsigned long long)dlen, rel);
        } else if (type == 'f') {
            int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           mode & 0111 ? 0700 : 0600);
            if (out < 0) die("cannot create", path, errno);
            for (uint64_t left = dlen; left;) {
                size_t n = left < BUF_SIZE ? (size_t)left : BUF_SIZE;
                read_exact(self, buf, n, rel);
                write_all(out, buf, n, path);
                left -= n;
            }
            struct stat st;
            if (fstat(out, &st) != 0 || close(out) != 0) die("cannot write", path, errno);
            fprintf(marker, "f %lld %lld %lld %s\n", (long long)st.st_size,
                    (long long)st.st_mtim.tv_sec, (long long)st.st_mtim.tv_nsec, rel);
        } else {
            die("damaged executable (bad record type)", rel, 0);
        }
        done += sizeof head + plen + dlen;
    }
    free(buf);
    if (done != length) die("damaged executable (payload length)", "", 0);
    fprintf(marker, "end\n");
    if (fflush(marker) != 0 || fsync(fileno(marker)) != 0 || fclose(marker) != 0)
        die("cannot write", marker_path, errno);
    if (rename(marker_path, final_marker) != 0) die("cannot write", final_marker, errno);
}

int main(int argc, char **argv) {
    (void)argc;
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n <= 0) die("cannot find its own executable", "/proc/self/exe", errno);
    exe_path[n] = '\0';
    int self = open(exe_path, O_RDONLY | O_CLOEXEC);
    if (self < 0) die("cannot read", exe_path, errno);
    struct stat st;
    if (fstat(self, &st) != 0 || st.st_size < TRAILER_LEN) die("damaged executable", exe_path, 0);
    unsigned char trailer[TRAILER_LEN];
    if (pread(self, trailer, TRAILER_LEN, st.st_size - TRAILER_LEN) != TRAILER_LEN ||
        memcmp(trailer, MAGIC, MAGIC_LEN) != 0)
        die("damaged executable (no payload):", exe_path, 0);
    uint64_t offset = le64(trailer + MAGIC_LEN), length = le64(trailer + MAGIC_LEN + 8);
    char id[ID_LEN + 1];
    memcpy(id, trailer + MAGIC_LEN + 16, ID_LEN);
    id[ID_LEN] = '\0';
    for (int i = 0; i < ID_LEN; i++)
        if (!strchr("0123456789abcdef", id[i])) die("damaged executable (build id)", exe_path, 0);
    if (offset + length + TRAILER_LEN != (uint64_t)st.st_size)
        die("damaged executable (payload size)", exe_path, 0);

    char root[4096], dir[8192], entry[8192];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(root, sizeof root, "%s/appliance", xdg);
    else if (home && home[0] == '/')
        snprintf(root, sizeof root, "%s/.cache/appliance", home);
    else
        die("has no cache folder: neither XDG_CACHE_HOME nor HOME is an absolute path", "", 0);
    make_private_root(root);
    snprintf(dir, sizeof dir, "%s/%s", root, id);
    snprintf(entry, sizeof entry, "%s/%s", dir, ENTRY);

    if (!cache_is_sound(dir, id)) {
        struct stat old;
        if (lstat(dir, &old) == 0) {  /* there but unsound: set aside, then remove */
            char stale[8192];
            snprintf(stale, sizeof stale, "%s/.stale-%ld-%s", root, (long)getpid(), id);
            if (rename(dir, stale) != 0 && errno != ENOENT) die("cannot move aside", dir, errno);
            remove_tree(stale);
        }
        remove_abandoned(root);
        char tmp[8192];
        snprintf(tmp, sizeof tmp, "%s/.unpacking-%ld-XXXXXX", root, (long)getpid());
        if (!mkdtemp(tmp)) die("cannot create a folder in", root, errno);
        unpack(self, offset, length, tmp, id);
        if (chmod(tmp, 0700) != 0) die("cannot finish", tmp, errno);
        if (rename(tmp, dir) != 0) {
            int err = errno;
            remove_tree(tmp);
            /* another first launch got there first: use its folder if sound */
            if (!((err == EEXIST || err == ENOTEMPTY) && cache_is_sound(dir, id)))
                die("cannot move into place", dir, err);
        }
    }
    close(self);
    execv(entry, argv);
    die("cannot start", entry, errno);
    return 127;
}
