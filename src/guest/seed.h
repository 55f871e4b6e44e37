/*
 * seed: what a guest reads on first boot to configure itself, rendered from
 * a VirtualMachine (pure: data in, files out), and written as a NoCloud seed
 * ISO 9660 image labelled "cidata" (seed_iso_write, the one function here
 * that does I/O, through libisofs).
 *
 * Files by bootstrap provider (spec.bootstrap):
 *   cloudInit   meta-data (instance-id, local-hostname), user-data (the raw
 *               cloud-config from a Secret, or one rendered from the
 *               structured cloudConfig), network-config (version 2, from
 *               spec.network)
 *   linuxPrep   meta-data and network-config, plus user-data carrying the
 *               hostname, time zone and hardware clock setting
 *   sysprep     unattend.xml (inline sysprep or rawSysprep from a Secret)
 *   vAppConfig  ovf-env.xml with the properties (literals or from Secrets)
 *   (none)      as linuxPrep without time zone or clock settings
 *
 * vAppConfig may accompany linuxPrep or sysprep (or stand alone); the
 * other providers exclude each other (seed_validate_bootstrap).
 *
 * Secrets are resolved by the caller: `secrets` maps "<secret name>" to an
 * object of key -> decoded value (plain text).  A reference to a missing
 * secret or key fails with ERR_NOT_FOUND naming both, never a partial seed.
 * Secret values never appear in error messages.
 */
#ifndef VMSVC_SEED_H
#define VMSVC_SEED_H

#include <glib.h>
#include <jansson.h>

#include "util/err.h"

typedef struct seed_file {
    char *name;    /* path inside the image, e.g. "user-data" */
    GBytes *data;
} seed_file_t;

/* Render the seed files for `vm` (a whole VirtualMachine object, spec and
 * metadata; status.biosUUID / instanceUUID used when present).  `macs` lists
 * the MAC address the host assigned to each of spec.network.interfaces, in
 * order (strings), so that network-config can match interfaces by MAC.
 * Returns an array of seed_file_t* (free with g_ptr_array_unref), or NULL. */
GPtrArray *seed_render(const json_t *vm, const json_t *secrets, const json_t *macs, err_t *err);

/* The names of the Secrets `vm`'s bootstrap refers to (strings, each once). */
json_t *seed_secret_refs(const json_t *vm);

/* Check the rules that the schema cannot express: one provider among
 * cloudInit, linuxPrep and sysprep (vAppConfig only beside linuxPrep or
 * sysprep), cloudConfig xor rawCloudConfig, sysprep xor rawSysprep,
 * properties xor rawProperties, joinDomain xor joinWorkgroup.  Returns 0,
 * or -1 with ERR_INVALID and one cause per broken rule, naming its field.
 * seed_render checks the same; the API calls this at admission. */
int seed_validate_bootstrap(const json_t *vm, err_t *err);

/* Write `files` as an ISO 9660 image (Rock Ridge and Joliet) with volume id
 * `label` at `path`, atomically (temporary file and rename). */
int seed_iso_write(const char *path, const char *label, GPtrArray *files, err_t *err);

#endif
