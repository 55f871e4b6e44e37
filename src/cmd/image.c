/*
 * image: `vmsvc image import FILE --name NAME`, the local way to add an image
 * until content libraries serve them: the disk file (any format qemu-img
 * reads) is copied into the server's data directory, where the server
 * publishes it as a ClusterVirtualMachineImage within seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/disk.h"
#include "cmd/cmd.h"
#include "model/meta.h"
#include "util/fs.h"

static int copy_file(const char *src, const char *dst, err_t *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    char *buf = NULL;
    int rc = -1;

    if (in < 0) {
        err_set(err, ERR_NOT_FOUND, "Cannot open %s: %s", src, strerror(errno));
        return -1;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        goto fail;
    buf = g_malloc(1 << 20);
    for (;;) {
        ssize_t n = read(in, buf, 1 << 20), off = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        while (off < n) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                goto fail;
            off += w;
        }
    }
    if (fsync(out) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    err_set(err, ERR_INTERNAL, "Cannot copy %s to %s: %s", src, dst, strerror(errno));
out:
    g_free(buf);
    close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int image_import(const char *data_dir, const char *file, const char *name,
                        const char *firmware, const char *os_type, const char *os_version)
{
    char why[256];
    err_t err = ERR_INIT;
    disk_info_t info;
    char *dir = g_build_filename(data_dir, "images", NULL);
    char *dst = g_build_filename(dir, name, NULL);
    char *tmp = g_strconcat(dst, ".tmp", NULL);
    char *side = g_strconcat(dst, ".json", NULL);
    json_t *meta = NULL;
    char *text = NULL;
    int rc = 1;

    if (strlen(name) > 63 || !meta_is_dns1123_subdomain(name, why, sizeof(why))) {
        fprintf(stderr, "vmsvc image import: --name \"%s\" is not a valid image name: %s\n", name,
                why);
        goto out;
    }
    if (strcmp(firmware, "bios") && strcmp(firmware, "efi")) {
        fprintf(stderr, "vmsvc image import: --firmware must be bios or efi\n");
        goto out;
    }
    if (disk_info(file, &info, &err) < 0 || fs_mkdir_p(dir, 0700, &err) < 0)
        goto fail;
    meta = json_pack("{s:s,s:s,s:s,s:s,s:I}", "firmware", firmware, "osType", os_type,
                     "osVersion", os_version ? os_version : "", "format", info.format,
                     "virtualSize", (json_int_t)info.virtual_size);
    text = json_dumps(meta, JSON_INDENT(2));
    if (fs_write_atomic(side, text, strlen(text), 0600, &err) < 0 ||
        copy_file(file, tmp, &err) < 0)
        goto fail;
    if (rename(tmp, dst) < 0) {
        err_set(&err, ERR_INTERNAL, "Cannot rename %s: %s", tmp, strerror(errno));
        goto fail;
    }
    printf("image %s: %s, %lld bytes, %s firmware; published as ClusterVirtualMachineImage %s\n",
           name, info.format, (long long)info.virtual_size, firmware, name);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "vmsvc image import: %s\n", err.msg);
    unlink(tmp);
out:
    err_clear(&err);
    json_decref(meta);
    free(text);
    g_free(dir);
    g_free(dst);
    g_free(tmp);
    g_free(side);
    return rc;
}

int cmd_image(int argc, char **argv)
{
    char *data_dir = NULL, *name = NULL, *firmware = NULL, *os_type = NULL, *os_version = NULL;
    GOptionEntry entries[] = {
        {"data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
         "the server's data directory (default " CMD_DEFAULT_DATA_DIR ")", "DIR"},
        {"name", 0, 0, G_OPTION_ARG_STRING, &name, "the image's name (required)", "NAME"},
        {"firmware", 0, 0, G_OPTION_ARG_STRING, &firmware, "bios (default) or efi", "FW"},
        {"os-type", 0, 0, G_OPTION_ARG_STRING, &os_type, "guest OS type (default linux)", "TYPE"},
        {"os-version", 0, 0, G_OPTION_ARG_STRING, &os_version, "guest OS version", "VERSION"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("import FILE - add a disk image");
    GError *gerr = NULL;
    int rc;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Copies a disk image (qcow2, raw, ...) into the server's "
                                      "data directory; the server publishes it as a "
                                      "ClusterVirtualMachineImage of that name.");
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "vmsvc image: %s\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (argc != 3 || strcmp(argv[1], "import") != 0 || !name) {
        fprintf(stderr, "usage: vmsvc image import FILE --name NAME [--firmware bios|efi] "
                        "[--data-dir DIR]\n");
        rc = 2;
    } else {
        rc = image_import(data_dir ? data_dir : CMD_DEFAULT_DATA_DIR, argv[2], name,
                          firmware ? firmware : "bios", os_type ? os_type : "linux", os_version);
    }
    g_free(data_dir);
    g_free(name);
    g_free(firmware);
    g_free(os_type);
    g_free(os_version);
    return rc;
}
