/* --stats-prometheus DIR: a node's counters as Prometheus text exposition in the file
 * DIR/vsmp-CLUSTER-NODE.prom, the layout node_exporter's textfile collector reads (every *.prom
 * in one directory), so that the nodes a launcher starts on one host each have their own file.
 * The file is replaced atomically (written under a temporary name, then renamed over it): a
 * reader sees the previous version or the new one, never half of one. */
#ifndef VMM_PROM_FILE_H
#define VMM_PROM_FILE_H

#include <stddef.h>

#include "vmm/node_stats.h"

/* 0 if dir is a directory this process may create files in; else -1 with the reason. */
int prom_file_check_dir(const char *dir, char *err, size_t errlen);

/* Writes s (node_stats_write_prometheus) as the node's file in dir. -1 with the reason in err if
 * any step fails; the previous file, if any, is then left as it was. */
int prom_file_write(const char *dir, const char *cluster, const char *node,
		    const struct node_stats *s, char *err, size_t errlen);

#endif
