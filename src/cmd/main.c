/* main: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"server", cmd_server, "run the API server, its store and controllers"},
    {"kubeconfig", cmd_kubeconfig, "print the admin kubeconfig of a server's data directory"},
    {"image", cmd_image, "import a disk image (vmsvc image import FILE --name NAME)"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: vmsvc COMMAND [OPTIONS]\n\nA VM service with a Kubernetes-style API.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-12s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'vmsvc COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("Usage: vmsvc version\n\nPrint the version of this binary.\n");
            return 0;
        }
        printf("vmsvc %s\n", VMSVC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vmsvc: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
