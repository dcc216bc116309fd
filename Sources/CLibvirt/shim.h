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
