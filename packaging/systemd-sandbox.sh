#!/usr/bin/env bash
# Boots systemd as PID 1 of private namespaces over a throw-away overlay of this machine's root,
# so that a unit runs under the real service manager (Type=notify, watchdog, seccomp, namespaces)
# on machines where systemd is not PID 1: CI runners and containers. Root only.
#
#   systemd-sandbox.sh start DIR      boot; prints the PID of the sandbox's systemd (on the host)
#   systemd-sandbox.sh run DIR CMD... run CMD inside (systemctl, dpkg, journalctl, curl, ...)
#   systemd-sandbox.sh stop DIR       power off, and remove DIR and the sandbox's cgroup
#
# What the sandbox writes (dpkg's database, /etc, /var) goes to a tmpfs upper layer and vanishes;
# /proc/sys is read-only and the capabilities that reach the host kernel (modules, clock, reboot,
# raw I/O) are dropped, as systemd-nspawn does. Only the default units and the ones started
# inside run: boot target aoai-sandbox.target, not multi-user.target.
set -euo pipefail

action=${1:?usage: systemd-sandbox.sh start|run|stop DIR [CMD...]}
dir=${2:?usage: systemd-sandbox.sh start|run|stop DIR [CMD...]}
shift 2
cgroup_root=/sys/fs/cgroup/unified
[ -f "$cgroup_root/cgroup.procs" ] || cgroup_root=/sys/fs/cgroup
cgroup=$cgroup_root/aoai-sandbox-$(basename "$dir")

pid_of_sandbox() { cat "$dir.pid" 2>/dev/null; }

case "$action" in
start)
    [ "$(id -u)" = 0 ] || { echo "systemd-sandbox: needs root" >&2; exit 1; }
    [ -x /lib/systemd/systemd ] || { echo "systemd-sandbox: /lib/systemd/systemd is missing" >&2; exit 1; }
    grep -qw cgroup2 /proc/filesystems || { echo "systemd-sandbox: no cgroup2 in this kernel" >&2; exit 1; }
    mkdir -p "$dir" "$cgroup"
    log=$dir.log
    # Descriptors beyond 0-2 are not passed on: the sandbox outlives this script, and a caller
    # may wait for the end of its child through one (Foundation's Process does, on a socket pair).
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    # The inner script runs as PID 1 of the new PID namespace, in its own mount, network, UTS,
    # IPC and cgroup namespaces, then becomes systemd.
    inner=$(cat <<'INNER'
set -euo pipefail
dir=$1
mount -t tmpfs -o mode=0755 sandbox "$dir"
mkdir "$dir/upper" "$dir/work" "$dir/root"
root=$dir/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
[ ! -e "$root/proc/sysrq-trigger" ] || mount --bind /dev/null "$root/proc/sysrq-trigger"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid dev "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
touch "$root/dev/console"
mount --bind /dev/null "$root/dev/console"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$root/tmp"
# Units that would touch the host kernel's global state, or are pointless here.
for unit in systemd-sysctl.service systemd-modules-load.service systemd-binfmt.service \
            systemd-timesyncd.service systemd-pstore.service proc-sys-fs-binfmt_misc.automount \
            systemd-firstboot.service systemd-hwdb-update.service systemd-udevd.service \
            systemd-udev-trigger.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
cat >"$root/etc/systemd/system/aoai-sandbox.target" <<'TARGET'
[Unit]
Description=aoai-canary systemd sandbox
Requires=basic.target
After=basic.target
AllowIsolate=yes
TARGET
echo aoai-sandbox >"$root/etc/hostname"
# Container images often carry a policy-rc.d that forbids maintainer scripts to start services;
# the sandbox stands for a booted host, which has none.
rm -f "$root/usr/sbin/policy-rc.d"
# pivot_root, not chroot: the kernel refuses user namespaces (PrivateUsers=) to chrooted callers.
mkdir -p "$root/run/sandbox-oldroot"
cd "$root"
pivot_root . run/sandbox-oldroot
umount -l /run/sandbox-oldroot
rmdir /run/sandbox-oldroot
# As systemd-nspawn does: systemd leaves propagation to the container manager, and it needs shared
# mounts (credentials are mounted in a helper namespace and moved into /run/credentials).
mount --make-rshared /
exec /usr/bin/env -i container=aoai-sandbox \
    /usr/bin/setpriv --bounding-set -sys_module,-sys_time,-sys_boot,-sys_rawio,-wake_alarm,-syslog,-mac_admin,-mac_override,-sys_pacct -- \
    /lib/systemd/systemd --system --unit=aoai-sandbox.target --log-target=journal --log-level=info
INNER
)
    # The wrapper joins the sandbox's cgroup first, so that the cgroup namespace is rooted there.
    setsid bash -c 'echo $$ >"$1/cgroup.procs"; shift; exec unshare --mount --propagation private --pid --fork --net --uts --ipc --cgroup -- bash -c "$@"' \
        wrapper "$cgroup" "$inner" inner "$dir" </dev/null >"$log" 2>&1 &
    wrapper=$!
    # The sandbox's PID 1 is the unshare process's only child.
    child=
    for _ in $(seq 100); do
        child=$(awk '{ print $1 }' "/proc/$wrapper/task/$wrapper/children" 2>/dev/null || true)
        [ -n "$child" ] && break
        sleep 0.1
    done
    [ -n "$child" ] || { echo "systemd-sandbox: the sandbox did not start:" >&2; cat "$log" >&2; exit 1; }
    echo "$child" >"$dir.pid"
    # Wait for the boot to finish (degraded is fine: some host units cannot start in here).
    for _ in $(seq 300); do
        state=$(nsenter --target "$child" --all --root --wd systemctl is-system-running 2>/dev/null || true)
        case "$state" in running | degraded) break ;; esac
        sleep 0.1
    done
    case "$state" in
        running | degraded) echo "$child" ;;
        *) echo "systemd-sandbox: the boot did not finish (state '$state'):" >&2; cat "$log" >&2; exit 1 ;;
    esac
    ;;
run)
    pid=$(pid_of_sandbox)
    [ -n "$pid" ] || { echo "systemd-sandbox: no sandbox in $dir" >&2; exit 1; }
    exec nsenter --target "$pid" --all --root --wd "$@"
    ;;
stop)
    pid=$(pid_of_sandbox || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # SIGRTMIN+4 asks systemd to power off; in a container PID 1 then exits.
        kill -s SIGRTMIN+4 "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    # Empty cgroups are removed leaves first, once the last process has been reaped.
    for _ in $(seq 50); do
        [ -d "$cgroup" ] || break
        find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.1
    done
    rm -rf "$dir" "$dir.pid" "$dir.log"
    ;;
*)
    echo "systemd-sandbox: unknown action '$action'" >&2
    exit 64
    ;;
esac
