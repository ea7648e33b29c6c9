/*
 * dropbear.options.h - the default guest's dropbear options, copied to the
 * source tree as localoptions.h (it overrides default_options.h) by
 * guest/build-userland.sh.
 *
 * Logins are by public key only: the guest's accounts have no passwords
 * (kumo refuses --admin-password for the default image). The host keys
 * live in /etc/dropbear (default_options.h), made by /init at first boot.
 */
#define DROPBEAR_SVR_PASSWORD_AUTH 0
#define DROPBEAR_SVR_PAM_AUTH 0
/* No sftp-server in the guest; dropbear's scp is (legacy scp protocol). */
#define DROPBEAR_SFTPSERVER 0
#define DROPBEAR_X11FWD 0
/* PATH of a login session: busybox's applets are in all four. */
#define DEFAULT_PATH "/sbin:/usr/sbin:/bin:/usr/bin"
#define DEFAULT_ROOT_PATH "/sbin:/usr/sbin:/bin:/usr/bin"
