/*
 * domain: the domain spec (see the end of hv/hv.h) validated and rendered to
 * libvirt domain XML, and the few pieces of libvirt XML that the libvirt
 * driver reads back (our metadata, one disk).  Pure: data in, data out.
 *
 * Every document is written and read with libxml2, never pasted together,
 * so any value (paths, names) is escaped.  The rendered domain is a q35
 * machine with virtio disks and NICs, the seed cdrom on SATA, the serial
 * console in a file, SMBIOS system UUID = spec uuid, and the VM's identity
 * in <metadata> under DOMAIN_XMLNS.
 *
 * Strings returned here are the caller's to g_free.
 */
#ifndef VMSVC_DOMAIN_H
#define VMSVC_DOMAIN_H

#include <jansson.h>

#include "util/err.h"

/* Namespace of the <metadata> element that carries the VM's identity. */
#define DOMAIN_XMLNS "https://vmsvc.dev/xmlns/domain/1"
#define DOMAIN_XMLNS_PREFIX "vmsvc"

/* UEFI firmware (Debian's ovmf package). */
#define DOMAIN_OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define DOMAIN_OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Limits enforced on a spec. */
#define DOMAIN_MAX_VCPUS 255
/* The longest UNIX socket path plus its NUL (sizeof sun_path on Linux). */
#define DOMAIN_SOCKET_PATH_MAX 108
#define DOMAIN_MIN_MEMORY_MIB 16
#define DOMAIN_MAX_MEMORY_MIB (4 * 1024 * 1024)
#define DOMAIN_MAX_DISKS 64
#define DOMAIN_MAX_NICS 32
#define DOMAIN_MAX_HOSTDEVS 16
/* Empty PCIe root ports left for disks attached while the domain runs. */
#define DOMAIN_HOTPLUG_PORTS 4

/* The libvirt domain type: the accelerator the guest runs on. */
typedef enum { DOMAIN_VIRT_KVM, DOMAIN_VIRT_QEMU, DOMAIN_VIRT_LAST } domain_virt_t;

/* "kvm" or "qemu" (TCG), as in <domain type=...>. */
const char *domain_virt_name(domain_virt_t v);

/* Check a whole domain spec: required fields, types, ranges, names of
 * targets and interfaces, unknown fields.  -1 with ERR_INVALID and a
 * sentence naming the field. */
int domain_spec_validate(const json_t *spec, err_t *err);

/* Check one element of spec.disks; `field` names it in messages
 * (e.g. "disks[1]" or "disk"). */
int domain_disk_validate(const json_t *disk, const char *field, err_t *err);

/* The libvirt domain XML for a spec (validated first), or NULL. */
char *domain_render(const json_t *spec, domain_virt_t virt, err_t *err);

/* The <disk> device XML for one disk (validated first), or NULL; what the
 * driver passes to virDomainAttachDevice. */
char *domain_render_disk(const json_t *disk, err_t *err);

/* The VM uid inside our metadata element, either as libvirt returns it for
 * DOMAIN_XMLNS (<vm><uid>..</uid></vm>, namespace stripped) or as written
 * (namespaced), or NULL when absent, foreign or unreadable. */
char *domain_metadata_vm_uid(const char *metadata_xml);

/* The <disk> element of a domain XML whose target is `target`, serialized,
 * for virDomainDetachDevice.  ERR_NOT_FOUND when the domain has no such
 * disk, ERR_INTERNAL when the XML does not parse. */
char *domain_xml_disk_dup(const char *domain_xml, const char *target, err_t *err);

#endif
