/*
 * ovf: reading an OVF descriptor (DMTF DSP0243, as VMware and others write
 * it) into what the image catalog shows and the importer needs.  Pure: a
 * buffer in, a JSON summary out.
 *
 * The descriptor is untrusted: it is parsed by libxml2 with no network
 * access, no entity expansion and no DTD (a descriptor with a DOCTYPE is
 * refused), at most OVF_MAX_BYTES long and OVF_MAX_DEPTH deep, with at most
 * OVF_MAX_ITEMS files, disks, hardware items or properties.  Elements and
 * attributes are matched by local name, so the OVF 1.x and 2.x namespaces
 * and any prefixes read alike.
 *
 * The summary (every member optional except files and disks):
 *   name            the VirtualSystem's Name, else its id
 *   description     the AnnotationSection's text
 *   files           [{id, href, size}]          References/File
 *   disks           [{id, fileRef, capacity, populatedSize, format}]
 *                   capacity in bytes (capacityAllocationUnits applied)
 *   os              {id: CIM number, type: vmw:osType, description}
 *   hardware        {cpus, memoryMiB, version: "vmx-19" -> 19, firmware:
 *                    "efi"|"bios", disks: [fileRef-ordered disk ids]}
 *   product         {product, vendor, version, fullVersion}
 *   properties      [{key, type, default, label, description,
 *                     userConfigurable}]; key is "class.key.instance"
 *                   with the parts that are present
 *   capabilities    from the property capabilities.image.vmoperator.vmware.com
 *                   (comma-separated), plus "cloud-init" when the
 *                   descriptor declares the user-data property that
 *                   cloud-init's OVF data source reads
 * Hrefs are checked: a plain file name (no directories, no "..", no URL
 * scheme), since the importer opens them beside the descriptor.
 */
#ifndef VMSVC_OVF_H
#define VMSVC_OVF_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define OVF_MAX_BYTES (1024 * 1024)
#define OVF_MAX_DEPTH 64
#define OVF_MAX_ITEMS 256

/* Parse a descriptor; a new summary, or NULL with ERR_INVALID and a
 * sentence that says what is wrong. */
json_t *ovf_parse(const char *buf, size_t len, err_t *err);

/* Whether `href` may name a file beside the descriptor. */
bool ovf_href_ok(const char *href);

#endif
