/* The Prometheus file of --stats-prometheus: the directory checked once up front, and each
 * version written to a temporary file beside the final one (same directory, so the rename is
 * atomic; its name does not end in .prom, so the textfile collector never reads it) and renamed
 * over it. */
#include "vmm/prom_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int prom_file_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: cannot create files there: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int prom_file_write(const char *dir, const char *cluster, const char *node,
		    const struct node_stats *s, char *err, size_t errlen)
{
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/vsmp-%s-%s.prom", dir, cluster, node);
	/* The longer of the two names: if it fits, both do. */
	int n = snprintf(tmp, sizeof(tmp), "%s/.vsmp-%s-%s.prom.tmp", dir, cluster, node);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int saved = 0;
	if (node_stats_write_prometheus(out, s, cluster, node) < 0)
		saved = errno ? errno : EIO;
	if (fclose(out) != 0 && !saved)
		saved = errno;
	if (saved) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(saved));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
