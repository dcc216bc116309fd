#include <stddef.h>
#include <libssh2.h>
#include <libssh2_sftp.h>

/* libssh2_channel_open_session() is a function-like macro, and the window size it passes
   (LIBSSH2_CHANNEL_WINDOW_DEFAULT, `(2*1024*1024)`) is a macro expression Swift does not
   import either; this keeps libssh2's own defaults instead of copying the numbers. */
static inline LIBSSH2_CHANNEL *cvm_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_session(session);
}
