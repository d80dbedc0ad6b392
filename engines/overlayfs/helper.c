// cowcheck's OverlayFS helper: the system calls node:fs lacks (mount, umount2, mknod, renameat2, the *xattr
// family, truncate(2)) and the raw dump of upper directories, for engines/overlayfs/index.ts. One long-lived
// process per engine, compiled on first use; not committed as a binary.
//
// Protocol: one request per line on stdin, words separated by one space, every argument in hex (numbers too:
// the hex of their decimal digits), so paths and values may hold any byte and an empty argument is an empty word. One JSON line answers each:
//   {"ok":true} | {"errno":N} | {"fail":"message"} | {"xattrs":{name:value}} | {"dump":[[entry,…],…]}
// Strings in answers are bytes as latin1: bytes outside printable ASCII are \u00XX escapes.
//   root DIR                   mount a private tmpfs on DIR and chdir into it (every later path is relative to it)
//   unroot                     chdir /, unmount the tmpfs (lazily if busy)
//   mount TARGET DATA          mount("overlay", TARGET, "overlay", 0, DATA)
//   umount TARGET              umount2(TARGET, 0), lazily if busy
//   mknod PATH                 a whiteout: character device 0/0
//   setxattr PATH NAME VALUE F setxattr (F=1, follows symlinks) or lsetxattr (F=0)
//   xattrs PATH                the user.* xattrs of PATH (not following a symlink)
//   truncate PATH SIZE         truncate(2)
//   rename FROM TO FLAGS       renameat2(AT_FDCWD, FROM, AT_FDCWD, TO, FLAGS)
//   dump DIR…                  every entry below each DIR, with its trusted.overlay.* facts
//   in MNT UID GID REQUEST…    REQUEST with MNT (a mount point) as the root directory, chroot-style, so that a
//                              symlink's ".." and "/" stay inside the mount, as effective user UID and group GID
//                              (no supplementary groups, no capabilities unless 0); then back. The requests for it:
//     mkdir PATH MODE          mkdir(2), then chmod(2) to exactly MODE (mkdir drops S_ISUID)
//     create PATH MODE         open(O_CREAT|O_EXCL|O_WRONLY, MODE), fchmod to exactly MODE
//     write PATH AT DATA       open(O_WRONLY), pwrite at AT;  append PATH DATA: open(O_WRONLY|O_APPEND), write
//     open PATH FLAGS MODE W DATA R
//                              open(PATH, FLAGS, MODE); if W is 1 write(2) DATA; if R is 1 lseek 0 and read it all
//                              ({"data":…}); errors of the open, the write or the read are its errno
//     unlink, rmdir, readlink, read, readdir, lstat PATH; link FROM TO; symlink TARGET PATH; chmod PATH MODE
//                              {"target":…} | {"data":…} | {"names":[…]} |
//                              {"lstat":{"type":"dir|file|symlink|other","mode":N,"size":N,"nlink":N,"ino":N}}
// On end of input, SIGTERM or SIGHUP it unmounts its tmpfs (lazily: everything mounted below goes with it) and
// removes the directory, so a parent that dies leaves no mount behind. SIGINT is the parent's to handle.
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static char *root; /* the tmpfs mount point, absolute, while mounted */
static int realroot = -1; /* "/", to come back from a chroot into a mount */

// ---- output

static char *out;
static size_t out_len, out_cap;

static void put(const char *s, size_t n) {
  if (out_len + n + 1 > out_cap) {
    while (out_len + n + 1 > out_cap) out_cap = out_cap ? out_cap * 2 : 65536;
    out = realloc(out, out_cap);
    if (!out) abort();
  }
  memcpy(out + out_len, s, n);
  out_len += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, long v) {
  char b[64];
  int n = snprintf(b, sizeof b, fmt, v);
  put(b, (size_t)n);
}

/** A JSON string of bytes read as latin1. */
static void put_str(const unsigned char *s, size_t n) {
  put("\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(e, 2);
    } else if (c < 0x20 || c >= 0x7f) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      put(e, 6);
    } else
      put((const char *)&c, 1);
  }
  put("\"", 1);
}

static void flush(void) {
  put("\n", 1);
  fwrite(out, 1, out_len, stdout);
  fflush(stdout);
  out_len = 0;
}

static void reply_ok(void) { puts_("{\"ok\":true}"), flush(); }
static void reply_errno(int e) { putf("{\"errno\":%ld}", e), flush(); }
static void reply_result(int r) { r == 0 ? reply_ok() : reply_errno(errno); }
static void reply_fail(const char *msg) {
  puts_("{\"fail\":");
  put_str((const unsigned char *)msg, strlen(msg));
  puts_("}");
  flush();
}

// ---- input

static int nibble(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/** Decode a hex word in place (NUL-terminated; *len gets the byte count). Returns 0 on bad hex. */
static int unhex(char *s, size_t *len) {
  size_t n = strlen(s);
  if (n % 2) return 0;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    s[i] = (char)(hi << 4 | lo);
  }
  s[n / 2] = 0;
  *len = n / 2;
  return 1;
}

// ---- cleanup

/** Lazily: whatever is mounted below goes too. Async-signal-safe. */
static void unroot(void) {
  if (!root) return;
  /* root again first: a signal may come while an op runs as another user, without the capabilities below */
  if (seteuid(0) != 0 || setegid(0) != 0) { /* already root */ }
  if (fchdir(realroot) != 0 || chroot(".") != 0) { /* out of a mount's chroot, if in one */ }
  if (chdir("/") != 0) { /* "/" always exists */ }
  umount2(root, MNT_DETACH);
  rmdir(root);
}

static void on_signal(int sig) {
  (void)sig;
  unroot();
  _exit(0);
}

// ---- the raw dump

#define XBUF 65536
static char names[XBUF];
static char value[XBUF];

static void dump_dir(const char *dir, const char *rel, int *first) {
  DIR *d = opendir(dir);
  if (!d) {
    if (!*first) put(",", 1);
    *first = 0;
    puts_("{\"fail\":");
    put_str((const unsigned char *)dir, strlen(dir));
    puts_("}");
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    size_t pl = strlen(dir) + strlen(de->d_name) + 2, rl = strlen(rel) + strlen(de->d_name) + 2;
    char *path = malloc(pl), *r = malloc(rl);
    snprintf(path, pl, "%s/%s", dir, de->d_name);
    if (*rel) snprintf(r, rl, "%s/%s", rel, de->d_name);
    else snprintf(r, rl, "%s", de->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) {
      free(path), free(r);
      continue; /* gone meanwhile: nothing runs meanwhile, so never */
    }
    if (!*first) put(",", 1);
    *first = 0;
    put("{\"path\":", 8);
    put_str((const unsigned char *)r, strlen(r));
    int metacopy = 0, xwhiteout = 0, nuser = 0;
    ssize_t nl = llistxattr(path, names, sizeof names);
    if (nl < 0) nl = 0;
    for (char *n = names; n < names + nl; n += strlen(n) + 1) {
      if (!strcmp(n, "trusted.overlay.metacopy")) metacopy = 1;
      if (!strcmp(n, "trusted.overlay.whiteout")) xwhiteout = 1;
    }
    const char *type;
    if (S_ISDIR(st.st_mode)) type = "dir";
    else if (S_ISLNK(st.st_mode)) type = "symlink";
    else if (S_ISREG(st.st_mode)) type = xwhiteout && st.st_size == 0 ? "whiteout" : "file";
    else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) type = "whiteout";
    else type = "other";
    puts_(",\"type\":\"");
    puts_(type);
    puts_("\"");
    if (strcmp(type, "whiteout")) putf(",\"mode\":%ld", st.st_mode & 07777);
    if (strcmp(type, "whiteout") && (st.st_uid || st.st_gid)) {
      putf(",\"uid\":%ld", (long)st.st_uid);
      putf(",\"gid\":%ld", (long)st.st_gid);
    }
    if (!strcmp(type, "file")) {
      putf(",\"size\":%ld", (long)st.st_size);
      if (!metacopy) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW);
        ssize_t got = fd < 0 ? -1 : read(fd, value, sizeof value);
        if (fd >= 0) close(fd);
        if (got >= 0) {
          puts_(",\"data\":");
          put_str((const unsigned char *)value, (size_t)got);
        } else
          puts_(",\"data\":null");
      }
    }
    if (S_ISLNK(st.st_mode)) {
      ssize_t t = readlink(path, value, sizeof value);
      if (t >= 0) {
        puts_(",\"target\":");
        put_str((const unsigned char *)value, (size_t)t);
      }
    }
    for (char *n = names; n < names + nl; n += strlen(n) + 1) {
      if (strncmp(n, "user.", 5)) continue;
      ssize_t v = lgetxattr(path, n, value, sizeof value);
      if (v < 0) continue;
      puts_(nuser++ ? "," : ",\"xattrs\":{");
      put_str((const unsigned char *)n, strlen(n));
      put(":", 1);
      put_str((const unsigned char *)value, (size_t)v);
    }
    if (nuser) put("}", 1);
    static const char *const facts[] = {"opaque", "redirect"};
    for (int i = 0; i < 2; i++) {
      char xname[64];
      snprintf(xname, sizeof xname, "trusted.overlay.%s", facts[i]);
      ssize_t v = lgetxattr(path, xname, value, sizeof value);
      if (v < 0) continue;
      puts_(",\"");
      puts_(facts[i]);
      puts_("\":");
      put_str((const unsigned char *)value, (size_t)v);
    }
    if (lgetxattr(path, "trusted.overlay.origin", NULL, 0) >= 0) puts_(",\"origin\":true");
    if (metacopy) puts_(",\"metacopy\":true");
    put("}", 1);
    if (S_ISDIR(st.st_mode)) dump_dir(path, r, first);
    free(path), free(r);
  }
  closedir(d);
}

// ---- requests inside a mount (chrooted at it)

static void handle_words(char **w, const size_t *len, int n);

/** All of a descriptor's bytes from offset 0, as {"data":…}; -1 with errno on failure. */
static int reply_read_all(int fd) {
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, value + got, sizeof value - got);
    if (r < 0) return -1;
    if (r == 0 || (got += (size_t)r) == sizeof value) break;
  }
  puts_("{\"data\":");
  put_str((const unsigned char *)value, got);
  puts_("}");
  flush();
  return 0;
}

static int closing(int fd, int r) {
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static void reply_names(const char *path) {
  DIR *d = opendir(path);
  if (!d) return reply_errno(errno);
  puts_("{\"names\":[");
  int k = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (k++) put(",", 1);
    put_str((const unsigned char *)de->d_name, strlen(de->d_name));
  }
  closedir(d);
  puts_("]}");
  flush();
}

/** One request inside a mount; w[0] is its name. Paths are relative to the mount's root, "." for the root itself. */
static void inside(char **w, const size_t *len, int n) {
  const char *cmd = w[0];
  long num = n > 2 ? strtol(w[2], NULL, 10) : 0;
#define NEED_IN(k) \
  if (n != (k) + 1) return reply_fail("wrong number of arguments")
  if (!strcmp(cmd, "mkdir")) {
    NEED_IN(2);
    return reply_result(mkdir(w[1], (mode_t)num) || chmod(w[1], (mode_t)num));
  }
  if (!strcmp(cmd, "create")) {
    NEED_IN(2);
    int fd = open(w[1], O_CREAT | O_EXCL | O_WRONLY, (mode_t)num);
    if (fd < 0) return reply_errno(errno);
    return reply_result(closing(fd, fchmod(fd, (mode_t)num)));
  }
  if (!strcmp(cmd, "write") || !strcmp(cmd, "append")) {
    int append = cmd[0] == 'a';
    NEED_IN(append ? 2 : 3);
    int fd = open(w[1], O_WRONLY | (append ? O_APPEND : 0));
    if (fd < 0) return reply_errno(errno);
    const char *data = w[append ? 2 : 3];
    size_t n_ = len[append ? 2 : 3];
    ssize_t r = append ? write(fd, data, n_) : pwrite(fd, data, n_, num);
    return reply_result(closing(fd, r < 0 ? -1 : 0));
  }
  if (!strcmp(cmd, "open")) {
    NEED_IN(6);
    int fd = open(w[1], (int)num, (mode_t)strtol(w[3], NULL, 10));
    if (fd < 0) return reply_errno(errno);
    if (w[4][0] == '1' && write(fd, w[5], len[5]) < 0) return reply_errno(closing(fd, errno));
    if (w[6][0] != '1') return reply_result(close(fd));
    if (lseek(fd, 0, SEEK_SET) < 0 || reply_read_all(fd) < 0) return reply_errno(closing(fd, errno));
    close(fd);
    return;
  }
  if (!strcmp(cmd, "read")) {
    NEED_IN(1);
    int fd = open(w[1], O_RDONLY);
    if (fd < 0) return reply_errno(errno);
    if (reply_read_all(fd) < 0) return reply_errno(closing(fd, errno));
    close(fd);
    return;
  }
  if (!strcmp(cmd, "readdir")) {
    NEED_IN(1);
    return reply_names(w[1]);
  }
  if (!strcmp(cmd, "readlink")) {
    NEED_IN(1);
    ssize_t t = readlink(w[1], value, sizeof value);
    if (t < 0) return reply_errno(errno);
    puts_("{\"target\":");
    put_str((const unsigned char *)value, (size_t)t);
    puts_("}");
    return flush();
  }
  if (!strcmp(cmd, "lstat")) {
    NEED_IN(1);
    struct stat st;
    if (lstat(w[1], &st) != 0) return reply_errno(errno);
    const char *type = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "symlink" : "other";
    puts_("{\"lstat\":{\"type\":\"");
    puts_(type);
    putf("\",\"mode\":%ld", (long)st.st_mode);
    putf(",\"size\":%ld", (long)st.st_size);
    putf(",\"nlink\":%ld", (long)st.st_nlink);
    putf(",\"ino\":%ld", (long)st.st_ino);
    putf(",\"uid\":%ld", (long)st.st_uid);
    putf(",\"gid\":%ld}}", (long)st.st_gid);
    return flush();
  }
  if (!strcmp(cmd, "unlink")) {
    NEED_IN(1);
    return reply_result(unlink(w[1]));
  }
  if (!strcmp(cmd, "rmdir")) {
    NEED_IN(1);
    return reply_result(rmdir(w[1]));
  }
  if (!strcmp(cmd, "link")) {
    NEED_IN(2);
    return reply_result(link(w[1], w[2]));
  }
  if (!strcmp(cmd, "symlink")) {
    NEED_IN(2);
    return reply_result(symlink(w[1], w[2]));
  }
  if (!strcmp(cmd, "chmod")) {
    NEED_IN(2);
    return reply_result(chmod(w[1], (mode_t)num));
  }
  handle_words(w, len, n);
}

// ---- requests

#define MAXW 16

static void handle(char *line) {
  char *w[MAXW] = {0};
  size_t len[MAXW] = {0};
  int n = 0;
  for (char *s = line; n < MAXW && s;) w[n++] = strsep(&s, " ");
  for (int i = 1; i < n; i++)
    if (!unhex(w[i], &len[i])) return reply_fail("bad hex");
  if (strcmp(w[0], "in")) return handle_words(w, len, n);
  if (n < 5) return reply_fail("wrong number of arguments");
  if (!root) return reply_fail("not rooted");
  uid_t uid = (uid_t)strtoul(w[2], NULL, 10);
  gid_t gid = (gid_t)strtoul(w[3], NULL, 10);
  if (chroot(w[1]) != 0 || chdir("/") != 0) {
    int e = errno;
    if (fchdir(realroot) != 0 || chroot(".") != 0 || chdir(root) != 0) abort();
    return reply_errno(e);
  }
  /* the group first: once the user is not root, it may not change groups */
  if ((gid && setegid(gid) != 0) || (uid && seteuid(uid) != 0)) abort();
  inside(w + 4, len + 4, n - 4);
  if ((uid && seteuid(0) != 0) || (gid && setegid(0) != 0)) abort();
  if (fchdir(realroot) != 0 || chroot(".") != 0 || chdir(root) != 0) abort(); /* back to the tmpfs */
}

/** A request outside any mount (the tmpfs root is the working directory), or one `in` passed on. */
static void handle_words(char **w, const size_t *len, int n) {
  const char *cmd = w[0];
#define NEED(k) \
  if (n != (k) + 1) return reply_fail("wrong number of arguments")
  if (!strcmp(cmd, "root")) {
    NEED(1);
    if (root) return reply_fail("already rooted");
    if (mount("cowcheck-overlayfs", w[1], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) return reply_errno(errno);
    root = realpath(w[1], NULL);
    if (!root || chdir(root) != 0) {
      int e = errno;
      umount2(w[1], MNT_DETACH);
      return reply_errno(e);
    }
    return reply_ok();
  }
  if (!strcmp(cmd, "unroot")) {
    NEED(0);
    if (!root) return reply_ok();
    if (chdir("/") != 0) return reply_errno(errno);
    if (umount2(root, 0) != 0 && umount2(root, MNT_DETACH) != 0) return reply_errno(errno);
    free(root);
    root = NULL;
    return reply_ok();
  }
  if (!strcmp(cmd, "mount")) {
    NEED(2);
    return reply_result(mount("overlay", w[1], "overlay", 0, w[2]));
  }
  if (!strcmp(cmd, "umount")) {
    NEED(1);
    if (umount2(w[1], 0) == 0) return reply_ok();
    if (errno != EBUSY) return reply_errno(errno);
    return reply_result(umount2(w[1], MNT_DETACH));
  }
  if (!strcmp(cmd, "mknod")) {
    NEED(1);
    return reply_result(mknod(w[1], S_IFCHR | 0, makedev(0, 0)));
  }
  if (!strcmp(cmd, "setxattr")) {
    NEED(4);
    int r = w[4][0] == '1' ? setxattr(w[1], w[2], w[3], len[3], 0) : lsetxattr(w[1], w[2], w[3], len[3], 0);
    return reply_result(r);
  }
  if (!strcmp(cmd, "xattrs")) {
    NEED(1);
    ssize_t nl = llistxattr(w[1], names, sizeof names);
    if (nl < 0) return reply_errno(errno);
    puts_("{\"xattrs\":{");
    int k = 0;
    for (char *x = names; x < names + nl; x += strlen(x) + 1) {
      if (strncmp(x, "user.", 5)) continue;
      ssize_t v = lgetxattr(w[1], x, value, sizeof value);
      if (v < 0) {
        out_len = 0;
        return reply_errno(errno);
      }
      if (k++) put(",", 1);
      put_str((const unsigned char *)x, strlen(x));
      put(":", 1);
      put_str((const unsigned char *)value, (size_t)v);
    }
    puts_("}}");
    return flush();
  }
  if (!strcmp(cmd, "truncate")) {
    NEED(2);
    return reply_result(truncate(w[1], strtol(w[2], NULL, 10)));
  }
  if (!strcmp(cmd, "rename")) {
    NEED(3);
    return reply_result((int)syscall(SYS_renameat2, AT_FDCWD, w[1], AT_FDCWD, w[2], (unsigned)strtoul(w[3], NULL, 10)));
  }
  if (!strcmp(cmd, "dump")) {
    puts_("{\"dump\":[");
    for (int i = 1; i < n; i++) {
      if (i > 1) put(",", 1);
      put("[", 1);
      int first = 1;
      dump_dir(w[i], "", &first);
      put("]", 1);
    }
    puts_("]}");
    return flush();
  }
  reply_fail("unknown request");
}

/** `helper probe DIR`: can this machine do what an engine needs? Prints why not and exits 1. DIR is left empty. */
static int probe(const char *dir) {
  const char *why = NULL;
  int e = 0;
  if (mount("cowcheck-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
    printf("cannot mount a tmpfs (%s)\n", strerror(errno));
    return 1;
  }
  if (chdir(dir) != 0 || mkdir("l", 0755) || mkdir("u", 0755) || mkdir("w", 0755) || mkdir("m", 0755) || mkdir("l/d", 0755))
    why = "cannot make directories on its tmpfs", e = errno;
  else if (setxattr("l/d", "user.x", "1", 1, 0) != 0)
    why = "has no user.* xattrs on tmpfs (Linux 6.6 added them)", e = errno;
  else if (setxattr("l/d", "trusted.overlay.opaque", "y", 1, 0) != 0)
    why = "cannot set trusted.* xattrs on tmpfs", e = errno;
  else if (mount("overlay", "m", "overlay", 0, "lowerdir=l,upperdir=u,workdir=w,redirect_dir=on,index=on,metacopy=on") != 0)
    why = "cannot mount an overlay (redirect_dir=on,index=on,metacopy=on) on tmpfs", e = errno;
  else if (umount2("m", 0) != 0)
    why = "cannot unmount an overlay", e = errno;
  if (chdir("/") != 0) { /* "/" always exists */ }
  if (umount2(dir, 0) != 0) umount2(dir, MNT_DETACH);
  if (why) {
    printf("%s: %s\n", why, strerror(e));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "probe")) return probe(argv[2]);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  umask(0);
  if (setgroups(0, NULL) != 0) return 1; /* an op's credentials are its uid and gid alone */
  realroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (realroot < 0) return 1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    handle(line);
  }
  unroot();
  return 0;
}
