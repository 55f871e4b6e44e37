/* kubeconfig: print the admin kubeconfig that the server wrote. */
#include <glib.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "util/fs.h"

int cmd_kubeconfig(int argc, char **argv)
{
    char *data_dir = NULL;
    GOptionEntry entries[] = {
        {"data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
         "the server's data directory (default " CMD_DEFAULT_DATA_DIR ")", "DIR"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- print the admin kubeconfig");
    GError *gerr = NULL;
    err_t err = ERR_INIT;
    char *path, *text;
    int rc = 0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Prints the kubeconfig (server URL, CA, admin token) that "
                                      "'vmsvc server' writes into its data directory.");
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "vmsvc kubeconfig: %s\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    path = g_build_filename(data_dir ? data_dir : CMD_DEFAULT_DATA_DIR, "kubeconfig", NULL);
    text = fs_read_all(path, 1 << 20, NULL, &err);
    if (!text) {
        fprintf(stderr, "vmsvc kubeconfig: %s%s\n", err.msg,
                err.code == ERR_NOT_FOUND ? " (has 'vmsvc server' run with this data directory?)"
                                          : "");
        rc = 1;
    } else {
        fputs(text, stdout);
    }
    err_clear(&err);
    g_free(text);
    g_free(path);
    g_free(data_dir);
    return rc;
}
