/*
 * cmd: the subcommands of the vmsvc binary.  Each takes the arguments after
 * its own name (argv[0] is the subcommand) and returns the exit status.
 */
#ifndef VMSVC_CMD_H
#define VMSVC_CMD_H

#define CMD_DEFAULT_DATA_DIR "/var/lib/vmsvc"
#define CMD_DEFAULT_LISTEN "127.0.0.1:6443"

int cmd_server(int argc, char **argv);
int cmd_kubeconfig(int argc, char **argv);
int cmd_image(int argc, char **argv);

struct apiserver;
struct err;
/* Make the default classes and storage class on a data directory's first start. */
int defaults_ensure(struct apiserver *srv, struct err *err);

/* Split "HOST:PORT" or "[V6]:PORT"; returns -1 on a malformed address. */
int cmd_parse_listen(const char *s, char **host, int *port);

#endif
