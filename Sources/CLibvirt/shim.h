#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* libvirt registers every event kind through one generic callback type and expects the
 * caller to cast its specific callback (VIR_DOMAIN_EVENT_CALLBACK). Swift cannot cast
 * between C function-pointer types, so the cast lives here. */
static inline virConnectDomainEventGenericCallback
cvm_lifecycle_callback(virConnectDomainEventCallback cb) {
    return VIR_DOMAIN_EVENT_CALLBACK(cb);
}

/* Same reason as above, for VIR_DOMAIN_EVENT_ID_JOB_COMPLETED (migration statistics). */
static inline virConnectDomainEventGenericCallback
cvm_job_completed_callback(virConnectDomainEventJobCompletedCallback cb) {
    return VIR_DOMAIN_EVENT_CALLBACK(cb);
}

/* libvirt's error callback receives a pointer to its thread-local error; installing a
 * handler that ignores it keeps libvirt from printing to stderr. A C function avoids
 * a Swift closure conversion for a callback that must never capture. */
static void cvm_ignore_error(void *userData, virErrorPtr error) {
    (void)userData; (void)error;
}
static inline void cvm_silence_libvirt_errors(void) {
    virSetErrorFunc(NULL, cvm_ignore_error);
}

/* ---- Calls that capture their own error ----------------------------------------------
 * libvirt keeps the last error in a thread-local slot, and every libvirt call clears it
 * on entry. Reading it afterwards from Swift is only correct if nothing else runs on the
 * thread in between (no libvirt call to build a message, no suspension point), which is
 * a calling convention nobody can check. Each cvm_<function> below calls <function> and,
 * when it fails, copies the error into the caller's `err` inside the same C call, so the
 * guarantee is structural (libvirt-go-module's generated `<function>Wrapper`s do the
 * same). The caller owns what was copied and frees it with virResetError. */

static inline virConnectPtr
cvm_virConnectOpen(const char *name, virErrorPtr err) {
    virConnectPtr ret = virConnectOpen(name);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virConnectGetHostname(virConnectPtr conn, virErrorPtr err) {
    char *ret = virConnectGetHostname(conn);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virConnectGetLibVersion(virConnectPtr conn, unsigned long *libVer, virErrorPtr err) {
    int ret = virConnectGetLibVersion(conn, libVer);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virConnectGetDomainCapabilities(virConnectPtr conn, const char *emulatorbin, const char *arch,
                                    const char *machine, const char *virttype, unsigned int flags,
                                    virErrorPtr err) {
    char *ret = virConnectGetDomainCapabilities(conn, emulatorbin, arch, machine, virttype, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains, unsigned int flags,
                             virErrorPtr err) {
    int ret = virConnectListAllDomains(conn, domains, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virConnectDomainEventRegisterAny(virConnectPtr conn, virDomainPtr dom, int eventID,
                                     virConnectDomainEventGenericCallback cb, void *opaque,
                                     virFreeCallback freecb, virErrorPtr err) {
    int ret = virConnectDomainEventRegisterAny(conn, dom, eventID, cb, opaque, freecb);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info, virErrorPtr err) {
    int ret = virNodeGetInfo(conn, info);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virNodeGetCPUStats(virConnectPtr conn, int cpuNum, virNodeCPUStatsPtr params, int *nparams,
                       unsigned int flags, virErrorPtr err) {
    int ret = virNodeGetCPUStats(conn, cpuNum, params, nparams, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

/* Domains */

static inline virDomainPtr
cvm_virDomainLookupByName(virConnectPtr conn, const char *name, virErrorPtr err) {
    virDomainPtr ret = virDomainLookupByName(conn, name);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virDomainPtr
cvm_virDomainLookupByUUIDString(virConnectPtr conn, const char *uuid, virErrorPtr err) {
    virDomainPtr ret = virDomainLookupByUUIDString(conn, uuid);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virDomainPtr
cvm_virDomainDefineXML(virConnectPtr conn, const char *xml, virErrorPtr err) {
    virDomainPtr ret = virDomainDefineXML(conn, xml);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virDomainPtr
cvm_virDomainCreateXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags, virErrorPtr err) {
    virDomainPtr ret = virDomainCreateXML(conn, xmlDesc, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainGetState(virDomainPtr domain, int *state, int *reason, unsigned int flags, virErrorPtr err) {
    int ret = virDomainGetState(domain, state, reason, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainGetInfo(virDomainPtr domain, virDomainInfoPtr info, virErrorPtr err) {
    int ret = virDomainGetInfo(domain, info);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags, virErrorPtr err) {
    char *ret = virDomainGetXMLDesc(domain, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainCreate(virDomainPtr domain, virErrorPtr err) {
    int ret = virDomainCreate(domain);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainDestroy(virDomainPtr domain, virErrorPtr err) {
    int ret = virDomainDestroy(domain);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainUndefineFlags(virDomainPtr domain, unsigned int flags, virErrorPtr err) {
    int ret = virDomainUndefineFlags(domain, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainUndefine(virDomainPtr domain, virErrorPtr err) {
    int ret = virDomainUndefine(domain);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virDomainGetMetadata(virDomainPtr domain, int type, const char *uri, unsigned int flags,
                         virErrorPtr err) {
    char *ret = virDomainGetMetadata(domain, type, uri, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainOpenChannel(virDomainPtr dom, const char *name, virStreamPtr st, unsigned int flags,
                         virErrorPtr err) {
    int ret = virDomainOpenChannel(dom, name, st, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline virDomainPtr
cvm_virDomainMigrate3(virDomainPtr domain, virConnectPtr dconn, virTypedParameterPtr params,
                      unsigned int nparams, unsigned int flags, virErrorPtr err) {
    virDomainPtr ret = virDomainMigrate3(domain, dconn, params, nparams, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainMigrateSetMaxDowntime(virDomainPtr domain, unsigned long long downtime, unsigned int flags,
                                   virErrorPtr err) {
    int ret = virDomainMigrateSetMaxDowntime(domain, downtime, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainAbortJob(virDomainPtr dom, virErrorPtr err) {
    int ret = virDomainAbortJob(dom);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virDomainGetJobStats(virDomainPtr domain, int *type, virTypedParameterPtr *params, int *nparams,
                         unsigned int flags, virErrorPtr err) {
    int ret = virDomainGetJobStats(domain, type, params, nparams, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virTypedParamsAddString(virTypedParameterPtr *params, int *nparams, int *maxparams,
                            const char *name, const char *value, virErrorPtr err) {
    int ret = virTypedParamsAddString(params, nparams, maxparams, name, value);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virTypedParamsAddULLong(virTypedParameterPtr *params, int *nparams, int *maxparams,
                            const char *name, unsigned long long value, virErrorPtr err) {
    int ret = virTypedParamsAddULLong(params, nparams, maxparams, name, value);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

/* Storage */

static inline virStoragePoolPtr
cvm_virStoragePoolLookupByName(virConnectPtr conn, const char *name, virErrorPtr err) {
    virStoragePoolPtr ret = virStoragePoolLookupByName(conn, name);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virStoragePoolPtr
cvm_virStoragePoolCreateXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags, virErrorPtr err) {
    virStoragePoolPtr ret = virStoragePoolCreateXML(conn, xmlDesc, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virStoragePoolPtr
cvm_virStoragePoolDefineXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags, virErrorPtr err) {
    virStoragePoolPtr ret = virStoragePoolDefineXML(conn, xmlDesc, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStoragePoolBuild(virStoragePoolPtr pool, unsigned int flags, virErrorPtr err) {
    int ret = virStoragePoolBuild(pool, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStoragePoolCreate(virStoragePoolPtr pool, unsigned int flags, virErrorPtr err) {
    int ret = virStoragePoolCreate(pool, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStoragePoolDestroy(virStoragePoolPtr pool, virErrorPtr err) {
    int ret = virStoragePoolDestroy(pool);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStoragePoolRefresh(virStoragePoolPtr pool, unsigned int flags, virErrorPtr err) {
    int ret = virStoragePoolRefresh(pool, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStoragePoolListAllVolumes(virStoragePoolPtr pool, virStorageVolPtr **vols, unsigned int flags,
                                 virErrorPtr err) {
    int ret = virStoragePoolListAllVolumes(pool, vols, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline virStorageVolPtr
cvm_virStorageVolLookupByName(virStoragePoolPtr pool, const char *name, virErrorPtr err) {
    virStorageVolPtr ret = virStorageVolLookupByName(pool, name);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virStorageVolPtr
cvm_virStorageVolCreateXML(virStoragePoolPtr pool, const char *xmldesc, unsigned int flags, virErrorPtr err) {
    virStorageVolPtr ret = virStorageVolCreateXML(pool, xmldesc, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virStorageVolGetPath(virStorageVolPtr vol, virErrorPtr err) {
    char *ret = virStorageVolGetPath(vol);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStorageVolGetInfo(virStorageVolPtr vol, virStorageVolInfoPtr info, virErrorPtr err) {
    int ret = virStorageVolGetInfo(vol, info);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStorageVolDelete(virStorageVolPtr vol, unsigned int flags, virErrorPtr err) {
    int ret = virStorageVolDelete(vol, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStorageVolDownload(virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
                          unsigned long long length, unsigned int flags, virErrorPtr err) {
    int ret = virStorageVolDownload(vol, stream, offset, length, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStorageVolUpload(virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
                        unsigned long long length, unsigned int flags, virErrorPtr err) {
    int ret = virStorageVolUpload(vol, stream, offset, length, flags);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

/* Streams. virStreamRecv and virStreamSend return -2 when a non-blocking stream would
 * block: not a failure, and libvirt reports no error for it, so only -1 is copied. */

static inline virStreamPtr
cvm_virStreamNew(virConnectPtr conn, unsigned int flags, virErrorPtr err) {
    virStreamPtr ret = virStreamNew(conn, flags);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStreamRecv(virStreamPtr st, char *data, size_t nbytes, virErrorPtr err) {
    int ret = virStreamRecv(st, data, nbytes);
    if (ret == -1) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStreamSend(virStreamPtr st, const char *data, size_t nbytes, virErrorPtr err) {
    int ret = virStreamSend(st, data, nbytes);
    if (ret == -1) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStreamFinish(virStreamPtr st, virErrorPtr err) {
    int ret = virStreamFinish(st);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virStreamEventAddCallback(virStreamPtr stream, int events, virStreamEventCallback cb, void *opaque,
                              virFreeCallback ff, virErrorPtr err) {
    int ret = virStreamEventAddCallback(stream, events, cb, opaque, ff);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

/* ---- Virtual networks (the CVM bridge) ---- */
static inline virNetworkPtr
cvm_virNetworkLookupByName(virConnectPtr conn, const char *name, virErrorPtr err) {
    virNetworkPtr ret = virNetworkLookupByName(conn, name);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline virNetworkPtr
cvm_virNetworkDefineXML(virConnectPtr conn, const char *xml, virErrorPtr err) {
    virNetworkPtr ret = virNetworkDefineXML(conn, xml);
    if (!ret) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virNetworkCreate(virNetworkPtr net, virErrorPtr err) {
    int ret = virNetworkCreate(net);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virNetworkDestroy(virNetworkPtr net, virErrorPtr err) {
    int ret = virNetworkDestroy(net);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline int
cvm_virNetworkUndefine(virNetworkPtr net, virErrorPtr err) {
    int ret = virNetworkUndefine(net);
    if (ret < 0) virCopyLastError(err);
    return ret;
}

static inline char *
cvm_virNetworkGetXMLDesc(virNetworkPtr net, virErrorPtr err) {
    char *ret = virNetworkGetXMLDesc(net, 0);
    if (!ret) virCopyLastError(err);
    return ret;
}
