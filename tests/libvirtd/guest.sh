#!/bin/sh
# The guest side of tests/libvirtd.rs: PID 1 after the initramfs (tests/kernel/init.sh) has
# switch_root'ed into a Debian root (read-only 9p) under a tmpfs overlay, in that release's
# kernel with AppArmor enforcing: on Debian 12 the host's / with Debian 12's qemu-system-x86
# as a layer over it (so QEMU is /usr/bin/qemu-system-x86_64 here), on Debian 13 trixie's
# root from tests/roots/build.sh (QEMU in it), with the host files this script reads copied
# in at their host paths. Argument: the run directory, whose run.env sets PROJECT (the
# source tree), SCENARIOS ("NAME:HELPER:PROFILE" words), OURS (our built helper) and NA (the
# plan's features this release's libvirt lacks: their checks are reported not applicable).
#
# Here the helper runs as on a Debian host: Debian's libvirtd (package
# libvirt-daemon-system, its usr.sbin.libvirtd profile loaded, libvirtd in enforce mode)
# execs /usr/lib/libvirt/virt-aa-helper, which the kernel confines with the helper profile of
# the scenario:
#   HELPER   ours | c (libvirt's C helper) | lexical (negative control: ours behind
#            tests/kernel/lexical-helper.sh, which folds ".." as text; its plan stops
#            after the start)
#   PROFILE  stock (Debian's /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper) | ours
#            ($PROJECT/profiles/usr.lib.libvirt.virt-aa-helper) | none (the helper runs
#            unconfined: a shell-script helper cannot run under either profile)
# Our helper under our profile comes from the Debian package when run.env sets DEB (the
# package cargo-deb built): "dpkg -i" diverts libvirt's helper and profile, its postinst
# loads our profile and runs --reload-all; the scenario installs it again while its VM runs
# (the postinst must reload that VM's profile) and purges it at the end (libvirt's files
# must come back byte for byte, and libvirt's profile into the kernel).
# Each scenario defines and starts a VM (it sits in firmware: no OS is needed), hotplugs and
# unplugs a disk, inserts and ejects a CD-ROM, plays a compromised QEMU through the monitor,
# attaches a storage pool's volume, then destroys and undefines the VM, and starts small VMs
# for a writable UEFI loader, a raw ACPI table and a shim; every step is judged by what the
# kernel and QEMU do.
#
# Writes to the second serial port (/dev/ttyS1, a file on the host):
#   == libvirtd VERSION | == scenario NAME HELPER PROFILE
#   PASS <check>   or   FAIL <check>: <why>   INFO <measurement>
#   INFO n/a <check>: <why>   (a check this release's libvirt cannot run: NA)
#   -- NAME: N passed, N failed
# and "== end" last. Check names are the same in every scenario.

# shellcheck source=../vm/guest-lib.sh
. "$(dirname "$0")/../vm/guest-lib.sh"
export HOME=/root
mount -t tmpfs tmpfs /dev/shm
# A bare devtmpfs has none of these; bash process substitution and libvirt use them.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
LOG=/var/log/libvirt/libvirtd.log
HELPER_PATH=/usr/lib/libvirt/virt-aa-helper
# Every AppArmor denial must reach the kernel log: without auditd the kernel prints audit
# records through printk_ratelimit(), which drops all but 10 in 5 s.
echo 0 >/proc/sys/kernel/printk_ratelimit

# check CHECK CMD...: PASS if the command succeeds, else FAIL with its last line.
check() {
    c=$1
    shift
    if o=$("$@" 2>&1); then
        ok "$c"
    else
        bad "$c" "$(last "$o")"
    fi
}
# vsh ARGS...: virsh with a time limit; sets $o.
vsh() {
    o=$(timeout 120 virsh -q "$@" 2>&1)
}

# --- The host as Debian sets it up -------------------------------------------------------------
# A stand-in for the host's /etc/shadow on the overlay (the real one is never read), readable
# by everyone so that only AppArmor can keep QEMU (user libvirt-qemu) from it.
rm -f /etc/shadow
printf 'root:*:19000:0:99999:7:::\n' >/etc/shadow
chmod 644 /etc/shadow
# libvirtd's debug log: every command it runs (util.command) and the security drivers.
cat >>/etc/libvirt/libvirtd.conf <<EOF
log_filters="1:util.command 1:security 3:util 3:rpc 3:qemu 3:conf"
log_outputs="1:file:$LOG"
auth_unix_rw="none"
auth_unix_ro="none"
EOF
printf 'security_driver = "apparmor"\n' >>/etc/libvirt/qemu.conf
# No networks: the default network would need dnsmasq and a bridge, which this guest lacks.
rm -f /etc/libvirt/qemu/networks/autostart/*
mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /var/cache/libvirt /run/libvirt
# Libvirt's C helper and Debian's helper profile, before any scenario replaces them, and the
# packages that own them (the profile moved from libvirt-daemon-system to
# libvirt-daemon-common in Debian 13).
cp -p "$HELPER_PATH" /usr/lib/libvirt/virt-aa-helper.debian
cp -p /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper /etc/apparmor.d/.stock-helper-profile
owner() {
    dpkg-query -S "$1" 2>/dev/null | sed -n 's/^\([^:]*\): .*/\1/p' | head -n 1
}
HELPER_PKG=$(owner "$HELPER_PATH")
PROFILE_PKG=$(owner /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper)
# Every apparmor_parser run goes through a wrapper that logs it to $PARSER_LOG, one line:
#   UPTIME KIND ARGS...
# KIND: remove (-R); compile (the parser compiled the policy: no cache, --skip-read-cache,
# or a cache it found stale and rewrote); cached (--write-cache without --skip-read-cache,
# and no cache file was written: the parser loaded its cached binary). The helper profiles
# run the parser Ux (/{usr/,}sbin/apparmor_parser; Debian 12's /sbin links to /usr/sbin), so
# the wrapper runs unconfined, as the parser did.
PARSER_LOG=/var/log/vah-parser.log
mv /usr/sbin/apparmor_parser /usr/sbin/apparmor_parser.real
cat >/usr/sbin/apparmor_parser <<'WRAPPER'
#!/bin/sh
real=/usr/sbin/apparmor_parser.real
log=/var/log/vah-parser.log
# The helper asks the release before it compiles (docs/parser-options.md): not a compile.
[ "$1" = --version ] && exec $real --version
kind=compile loc= prev= write= skip=
for a in "$@"; do
    case $a in
    -R | --remove) kind=remove ;;
    --write-cache) write=1 ;;
    --skip-read-cache) skip=1 ;;
    esac
    [ "$prev" = --cache-loc ] && loc=$a
    prev=$a
done
if [ $kind = remove ] || [ -z "$write" ] || [ -n "$skip" ] || [ -z "$loc" ]; then
    echo "$(cut -d' ' -f1 /proc/uptime) $kind $*" >>$log
    exec $real "$@"
fi
stamp=$(mktemp)
$real "$@"
rc=$?
if [ -n "$(find "$loc" -type f -cnewer "$stamp" 2>/dev/null | head -n 1)" ]; then kind=compile; else kind=cached; fi
rm -f "$stamp"
echo "$(cut -d' ' -f1 /proc/uptime) $kind $*" >>$log
exit $rc
WRAPPER
chmod 755 /usr/sbin/apparmor_parser
: >"$PARSER_LOG"
# Hugepages for the VMs' memory (<memoryBacking><hugepages/>) and their DIMMs: libvirtd finds
# hugetlbfs mounts when it starts. A scenario's VM takes 64 MiB, and 2 DIMMs of 64 MiB.
HUGEPAGES=128
mkdir -p /dev/hugepages
mount -t hugetlbfs none /dev/hugepages
echo $HUGEPAGES >/proc/sys/vm/nr_hugepages

preamble() {
    out "== libvirtd $(dpkg-query -W -f='${Version}' libvirt-daemon-system 2>&1) kernel $(uname -r)"
    NAME=
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
        ok "kernel: AppArmor is enabled"
    else
        bad "kernel: AppArmor is enabled" "$(cat /sys/kernel/security/lsm 2>&1)"
    fi
    check "libvirtd profile: usr.sbin.libvirtd loads" apparmor_parser -r /etc/apparmor.d/usr.sbin.libvirtd
    check "qemu: /usr/bin/qemu-system-x86_64 runs" /usr/bin/qemu-system-x86_64 --version
    hp=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$hp" = "$HUGEPAGES" ] && grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then
        ok "host: hugetlbfs is mounted on /dev/hugepages, its 2 MiB pages reserved"
    else
        bad "host: hugetlbfs is mounted on /dev/hugepages, its 2 MiB pages reserved" "$hp of $HUGEPAGES pages; $(grep hugetlbfs /proc/mounts)"
    fi
    if [ -c /dev/net/tun ] && [ -x /usr/sbin/apparmor_parser.real ]; then
        ok "host: /dev/net/tun is there (tun module); apparmor_parser is the counting wrapper"
    else
        bad "host: /dev/net/tun is there (tun module); apparmor_parser is the counting wrapper" "$(ls -l /dev/net/tun /usr/sbin/apparmor_parser* 2>&1 | tr '\n' ' ')"
    fi
    virtlogd -d
    libvirtd -d
    i=0
    while ! virsh -q uri >/dev/null 2>&1 && [ $i -lt 300 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    check "libvirtd: virsh uri answers" virsh -q uri
    pid=$(pidof libvirtd)
    label=$(cat "/proc/$pid/attr/current" 2>&1)
    if [ "$label" = "libvirtd (enforce)" ]; then
        ok "libvirtd: runs confined by its profile (enforce)"
    else
        bad "libvirtd: runs confined by its profile (enforce)" "pid '${pid:-none}': $label"
    fi
    vsh capabilities
    if printf '%s' "$o" | grep -q '<model>apparmor</model>'; then
        ok "libvirtd: virsh capabilities shows the apparmor secmodel"
    else
        bad "libvirtd: virsh capabilities shows the apparmor secmodel" "$(printf '%s' "$o" | grep -A2 '<secmodel>' | tr -d '\n ')"
    fi
    out "-- libvirtd: $pass passed, $fail failed"
}

# --- Fixtures -----------------------------------------------------------------------------------
domain_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$VM</name>
  <uuid>$UUID</uuid>
  <maxMemory slots='4' unit='MiB'>512</maxMemory>
  <memory unit='MiB'>64</memory>
  <memoryBacking>
    <hugepages/>
  </memoryBacking>
  <vcpu>1</vcpu>
  <cpu>
    <numa>
      <cell id='0' cpus='0' memory='64' unit='MiB'/>
    </numa>
  </cpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <!-- DIMM hotplug needs ACPI (QEMU: "memory hotplug is not enabled: missing acpi device"). -->
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$DISK'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$CHAIN/top.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$PC/top.qcow2'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='ethernet'>
      <target dev='$TAP' managed='yes'/>
      <model type='rtl8139'/>
      <rom enabled='no'/>
    </interface>
    <controller type='scsi' model='virtio-scsi'/>
    <controller type='virtio-serial'/>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# --- What QEMU and the kernel say ---------------------------------------------------------------
qemu_pid() {
    cat "/run/libvirt/qemu/$VM.pid" 2>/dev/null
}
# holds PATH: the running QEMU has PATH open (as the kernel names it).
holds() {
    p=$(qemu_pid)
    [ -n "$p" ] && for f in /proc/"$p"/fd/*; do
        [ "$(readlink "$f")" = "$1" ] && return 0
    done
    return 1
}
# wait_holds yes|no PATH: up to 15 s for QEMU to open or close PATH.
wait_holds() {
    # No QEMU: nothing is held (and nothing to wait for).
    if [ -z "$(qemu_pid)" ]; then
        [ "$1" = no ]
        return
    fi
    i=0
    while [ $i -lt 75 ]; do
        if holds "$2"; then
            [ "$1" = yes ] && return 0
        else
            [ "$1" = no ] && return 0
        fi
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
expect_holds() {
    if wait_holds "$2" "$3"; then
        ok "$1"
    else
        bad "$1" "QEMU (pid $(qemu_pid)) open files: $(for f in /proc/"$(qemu_pid)"/fd/*; do readlink "$f"; done 2>/dev/null | grep '^/' | grep -v '^/dev' | tr '\n' ' ')"
    fi
}
# monitor_open CHECK PATH: a compromised QEMU (the monitor's blockdev-add) opens PATH read-only;
# it must fail with EACCES, and the kernel must say it was AppArmor (a DENIED record for the
# VM's profile and that name), not DAC.
# A third argument is more of blockdev-add's arguments (',"locking":"off"': a store another
# QEMU holds locked then opens all the same, so a lock cannot stand in for AppArmor).
nodes=0
monitor_denied() {
    nodes=$((nodes + 1))
    vsh qemu-monitor-command "$VM" "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"node-name\":\"probe$nodes\",\"filename\":\"$2\",\"read-only\":true${3:-}}}"
    if printf '%s' "$o" | grep -q '"return"'; then
        bad "$1" "QEMU opened it: $(last "$o")"
        vsh qemu-monitor-command "$VM" "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"probe$nodes\"}}"
    elif ! printf '%s' "$o" | grep -q 'Permission denied'; then
        bad "$1" "failed, but not with EACCES: $(last "$o")"
    elif ! denials "libvirt-$UUID" | grep -qF "name=\"$2\""; then
        bad "$1" "EACCES, but no AppArmor DENIED record for $2 (DAC?)"
    else
        ok "$1"
    fi
}
# monitor_opens CHECK PATH: the monitor's blockdev-add (read-only, no lock) opens PATH.
monitor_opens() {
    nodes=$((nodes + 1))
    begin
    vsh qemu-monitor-command "$VM" "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"node-name\":\"probe$nodes\",\"filename\":\"$2\",\"read-only\":true,\"locking\":\"off\"}}"
    if printf '%s' "$o" | grep -q '"return"'; then
        ok "$1"
        vsh qemu-monitor-command "$VM" "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"probe$nodes\"}}"
    else
        d=$(new_denials | grep -F "name=\"$2\"")
        bad "$1" "$(last "$o")${d:+; DENIED: $(brief "$d")}"
    fi
}
# denials PROFILE: the kernel's AppArmor DENIED records for PROFILE since the scenario began.
denials() {
    dmesg | grep 'apparmor="DENIED"' | grep -F "profile=\"$1\""
}
in_files() {
    grep -qF "\"$1\"" "/etc/apparmor.d/libvirt/libvirt-$UUID.files" 2>/dev/null
}
files_has() {
    if in_files "$2"; then
        ok "$1"
    else
        bad "$1" "$2 is not in libvirt-$UUID.files"
    fi
}
files_lacks() {
    if [ -e "/etc/apparmor.d/libvirt/libvirt-$UUID.files" ] && ! in_files "$2"; then
        ok "$1"
    else
        bad "$1" "$2 is still in libvirt-$UUID.files (or the file is gone)"
    fi
}
kernel_mode() {
    sed -n "s/^libvirt-$UUID (\(.*\))\$/\1/p" "$AA/profiles"
}

# The helper runs libvirtd logged since line $1 of its log, one per line: the arguments.
helper_runs() {
    sleep 0.5
    tail -n +"$(($1 + 1))" "$LOG" | grep 'About to run' | grep -F "$HELPER_PATH" |
        sed "s|.*$HELPER_PATH||"
}
log_mark() {
    wc -l <"$LOG" 2>/dev/null || echo 0
}
# helper_ms MARK: the milliseconds libvirtd waited for the helper since line MARK of its log
# (from each run's "About to run" to the "Result status" line of the same thread).
helper_ms() {
    tail -n +"$(($1 + 1))" "$LOG" | awk -v helper="$HELPER_PATH" '
    function secs(t,    a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    {
        ts = secs(substr($2, 1, 12)); tid = $3
        if ($0 ~ /About to run/ && index($0, helper)) { start[tid] = ts; busy[tid] = 1 }
        else if ($0 ~ /virCommandRun:.*Result status/ && busy[tid]) { total += ts - start[tid]; busy[tid] = 0 }
    }
    END { printf "%d", total * 1000 }'
}
# begin: the marks a phase is measured from: libvirtd's log ($mark), the parser wrapper's log
# ($pmark) and the kernel's ($dmark).
begin() {
    mark=$(log_mark)
    pmark=$(wc -l <"$PARSER_LOG")
    dmark=$(dmesg | wc -l)
}
# phase NAME MARK: an INFO line with the helper runs of a phase since begin, and the parser
# runs that compiled a policy (the counting wrapper's log; a run that loaded the parser's
# cache or unloaded a profile is no compile).
phase() {
    runs=$(helper_runs "$2")
    n=$(printf '%s' "$runs" | grep -c .)
    prs=$(tail -n +"$((pmark + 1))" "$PARSER_LOG")
    compiles=$(printf '%s\n' "$prs" | grep -c '^[^ ]* compile ')
    cached=$(printf '%s\n' "$prs" | grep -c '^[^ ]* cached ')
    pruns=$(printf '%s\n' "$prs" | grep -c .)
    ms=$(helper_ms "$2")
    out "INFO calls $1: $n runs, $compiles compiles, $cached cached loads, $pruns parser runs, ${ms} ms in the helper:$(printf '%s' "$runs" | sed "s/-u libvirt-$UUID//" | tr -s ' ' | tr '\n' ';')"
    total_runs=$((total_runs + n))
    total_compiles=$((total_compiles + compiles))
    total_ms=$((total_ms + ms))
}
# new_denials: the kernel's DENIED records for the VM's profile since begin.
new_denials() {
    dmesg | tail -n +"$((dmark + 1))" | grep 'apparmor="DENIED"' | grep -F "profile=\"libvirt-$UUID\""
}
# brief RECORDS: DENIED records, short (operation, name, masks), one per distinct record.
brief() {
    printf '%s\n' "$1" | grep . | sed 's/.*\(operation="[^"]*"\).*\(name="[^"]*"\).*\(requested_mask="[^"]*"\).*\(denied_mask="[^"]*"\).*/\1 \2 \3 \4/' |
        sort -u | head -n 3 | tr '\n' ' '
}
# helper_error: the helper's last error in libvirtd's log since begin (libvirt itself says
# only "cannot load/update AppArmor profile").
helper_error() {
    tail -n +"$((mark + 1))" "$LOG" | grep -o "stderr: 'virt-aa-helper: error: .*" | tail -n 1 | cut -c10-
}
# op NAME CHECK STATUS OUTPUT: the end of an operation measured since begin: its check passes
# when STATUS is 0, the VM runs (every operation leaves it running; an offline disk-only
# snapshot would succeed without QEMU), and the kernel logged no DENIED record for the VM's
# profile meanwhile; an "INFO op NAME: PASS|FAIL" line and its calls (tests/libvirtd.rs
# tabulates them).
op() {
    phase "$1" "$mark"
    d=$(new_denials)
    rc=$3
    if [ "$rc" -eq 0 ] && [ -z "$(qemu_pid)" ]; then
        rc=1
        set -- "$1" "$2" 1 "the VM is not running"
    fi
    if [ "$rc" -eq 0 ] && [ -z "$d" ]; then
        ok "$2"
        r=PASS
    else
        why=
        [ "$3" -eq 0 ] || why="failed: $(last "$4"); "
        [ -z "$d" ] || why="${why}DENIED: $(brief "$d")"
        he=$(helper_error)
        [ -z "$he" ] || why="$why; the helper: $he"
        bad "$2" "$why"
        r=FAIL
    fi
    out "INFO op $1: $r, $n runs, $compiles compiles"
}

# direct CHECK ARGS...: the installed helper for the second VM, its XML on stdin.
direct() {
    c=$1
    shift
    if o=$(timeout 60 "$HELPER_PATH" "$@" -u "libvirt-$U2" <"$B/domain2.xml" 2>&1); then
        ok "$c"
    else
        bad "$c" "exit $?: $(last "$o")"
    fi
}
mode2() {
    sed -n "s/^libvirt-$U2 (\(.*\))\$/\1/p" "$AA/profiles"
}
modes() {
    U2=$(printf '00000000-0000-4000-9000-%012d' "$nth")
    F2=/etc/apparmor.d/libvirt/libvirt-$U2.files
    sed -e "s|<name>$VM</name>|<name>$VM-2</name>|" -e "s|<uuid>$UUID</uuid>|<uuid>$U2</uuid>|" \
        "$B/domain.xml" >"$B/domain2.xml"
    setup raw "$B/extra-f.img" 101 || return
    setup raw "$B/extra-F.img" 102 || return
    direct "modes: -c" -c
    m=$(mode2)
    direct "modes: -r -f FILE" -r -f "$B/extra-f.img"
    direct "modes: -r -F FILE" -r -F "$B/extra-F.img"
    if [ "$m" = enforce ] && grep -qF "\"$B/extra-f.img\"" "$F2" 2>/dev/null &&
        grep -qF "\"$B/extra-F.img\"" "$F2"; then
        ok "modes: loaded in enforce mode, -f and -F files in .files"
    else
        bad "modes: loaded in enforce mode, -f and -F files in .files" "mode '$m'; .files: $(grep -c extra "$F2" 2>&1)"
    fi
    direct "modes: -R" -R
    m=$(mode2)
    direct "modes: -a" -a
    m2=$(mode2)
    if [ -z "$m" ] && [ "$m2" = enforce ]; then
        ok "modes: -R unloads, -a loads"
    else
        bad "modes: -R unloads, -a loads" "after -R '$m', after -a '$m2'"
    fi
    direct "modes: -D" -D
    m=$(mode2)
    left=$(ls -A /etc/apparmor.d/libvirt | grep -F "$U2" | grep -vx "libvirt-$U2" | tr '\n' ' ')
    if [ -z "$m" ] && [ -z "$left" ]; then
        ok "modes: -D unloads; only the profile is left"
    else
        bad "modes: -D unloads; only the profile is left" "mode '$m'; left: $left"
    fi
}

# --- Another running VM's UEFI variables (docs/weak-spots.md W14) ------------------------------
# Debian's abstraction, which libvirt's TEMPLATE includes and the package leaves in place,
# grants "owner /var/lib/libvirt/qemu/nvram/*_VARS.fd rwk" (and *_VARS.ms.fd), and every QEMU
# runs as libvirt-qemu, which owns every store. A second VM runs with a pflash variable store
# in nvram/ (its firmware SeaBIOS as the pflash image: QEMU holds the store open whatever the
# firmware, and SeaBIOS starts faster than OVMF under TCG); this VM's QEMU must be denied that store and a
# *_VARS.ms.fd (EACCES and a DENIED record: AppArmor, not DAC, as both are libvirt-qemu's),
# and must still open its own <name>_VARS.fd, which the deny rule leaves out.
NV=/var/lib/libvirt/qemu/nvram
nvram_isolation() {
    V2=$NV/$VM-nv_VARS.fd
    MS2=$NV/$VM-nv_VARS.ms.fd
    OWN=$NV/${VM}_VARS.fd
    # Each store 128 KiB, as libvirt's DAC driver leaves it: libvirt-qemu's, 0600 (libvirt
    # chowns the second VM's at start; the other two are set here).
    mkdir -p "$NV"
    for f in "$V2" "$MS2" "$OWN"; do
        head -c 131072 /dev/zero >"$f"
        chown libvirt-qemu:libvirt-qemu "$f"
        chmod 600 "$f"
    done
    xvm nv b "    <loader readonly='yes' type='pflash'>/usr/share/seabios/bios-256k.bin</loader>
    <nvram>$V2</nvram>" "nvram: a second VM with a pflash variable store in nvram/ starts, no denial"
    on_vm "$XVM" "$XU" expect_holds "nvram: the second VM's QEMU holds its own <name>_VARS.fd open" yes "$V2"
    probe nvram-other monitor_denied "nvram: a compromised QEMU is denied the second running VM's <name>_VARS.fd" "$V2" ',"locking":"off"'
    probe nvram-other-ms monitor_denied "nvram: a compromised QEMU is denied another VM's <name>_VARS.ms.fd" "$MS2" ',"locking":"off"'
    probe nvram-own monitor_opens "nvram: QEMU still opens its own <name>_VARS.fd" "$OWN"
    xvm_gone
    rm -f "$V2" "$MS2" "$OWN"
}

# --- What libvirt 10 and 11 added: a storage pool's volume, a writable UEFI loader,
# raw ACPI tables, a shim ---
# na KEY CHECK...: true when this release's libvirt lacks the feature KEY (run.env's NA; for
# volume-untranslated only under Debian's helper profile), with an "INFO n/a" line for each
# CHECK the caller then skips; tests/libvirtd.rs knows how many to expect.
na() {
    key=$1
    shift
    case " ${NA:-} " in *" $key "*) ;; *) return 1 ;; esac
    case $key in
    acpi-raw) why="libvirt $(libvirtd --version | awk '{print $NF}') knows only <table type='slic'> (raw is libvirt 11.2)" ;;
    shim) why="libvirt $(libvirtd --version | awk '{print $NF}') has no <os><shim> (libvirt 11.2)" ;;
    volume-untranslated)
        [ "$PROF" = stock ] || return 1
        why="libvirtd hands the helper the volume untranslated (no VOLUME_TRANSLATED before libvirt 10) and Debian's helper profile denies the pool definitions in /etc/libvirt/storage: no helper can grant it"
        ;;
    esac
    for c in "$@"; do
        out "INFO n/a $c: $why"
    done
}
# on_vm NAME UUID CMD...: runs the check CMD about the VM NAME (UUID) instead of the
# scenario's main one (qemu_pid, new_denials, in_files and op read $VM and $UUID).
on_vm() {
    v0=$VM u0=$UUID
    VM=$1
    UUID=$2
    shift 2
    "$@"
    VM=$v0
    UUID=$u0
}

# A qcow2 volume of a "dir" storage pool, hotplugged into the running VM as
# <disk type='volume'>: libvirtd hands the helper the volume's path with -F, then (libvirt
# 10 and later) the translated path in every domain XML; a plain -r while it is attached
# must keep it granted.
volume_disk() {
    POOL=vah-$NAME
    VOL=$B/pool/vol.qcow2
    setup mkdir -p "$B/pool" || return
    setup virsh -q pool-define-as "$POOL" dir --target "$B/pool" || return
    setup virsh -q pool-start "$POOL" || return
    setup virsh -q vol-create-as "$POOL" vol.qcow2 1M --format qcow2 || return
    cat >"$B/volume.xml" <<XML
<disk type='volume' device='disk'>
  <driver name='qemu' type='qcow2'/>
  <source pool='$POOL' volume='vol.qcow2'/>
  <target dev='sdc' bus='scsi'/>
</disk>
XML
    begin
    vsh attach-device "$VM" "$B/volume.xml" --live
    rc=$?
    [ $rc -eq 0 ] && ! wait_holds yes "$VOL" && { rc=1; o="QEMU does not hold $VOL"; }
    op volume-attach "volume: a <disk type='volume'> of a dir pool hotplugs (attach-device --live), QEMU opens it, no denial" $rc "$o"
    if ! na volume-untranslated "volume: a plain -r with the volume attached (attach-disk, detach-disk of another disk), no denial" \
        "volume: after that plain -r QEMU still opens the volume"; then
        replug volume-r "volume: a plain -r with the volume attached (attach-disk, detach-disk of another disk), no denial"
        probe volume-after-r monitor_opens "volume: after that plain -r QEMU still opens the volume" "$VOL"
    else
        out "INFO op volume-r: N/A"
        out "INFO op volume-after-r: N/A"
    fi
    begin
    vsh detach-device "$VM" "$B/volume.xml" --live
    rc=$?
    [ $rc -eq 0 ] && ! wait_holds no "$VOL" && { rc=1; o="QEMU still holds $VOL"; }
    op volume-detach "volume: detach-device --live, QEMU closes it, no denial" $rc "$o"
}

# xvm KEY TAG OS-XML: defines and starts a small VM of its own, $VM-KEY (UUID ...-TAG000-...),
# whose <os> holds OS-XML; its start is the check "KEY: a VM with ... starts, no denial"
# (CHECK, the fourth argument), measured like an operation. Sets XVM, XU and XP (its QEMU's
# pid, empty if none).
xvm() {
    XVM=$VM-$1
    XU=$(printf '00000000-0000-4000-%s000-%012d' "$2" "$nth")
    cat >"$B/domain-$1.xml" <<XML
<domain type='qemu'>
  <name>$XVM</name>
  <uuid>$XU</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
$3
  </os>
  <features>
    <!-- libvirt: "UEFI requires ACPI on this architecture" (a pflash loader counts). -->
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
    begin
    vsh define "$B/domain-$1.xml" && vsh start "$XVM"
    on_vm "$XVM" "$XU" op "$1" "$4" $? "$o"
    XP=$(cat "/run/libvirt/qemu/$XVM.pid" 2>/dev/null)
}
xvm_gone() {
    timeout 60 virsh -q destroy "$XVM" >/dev/null 2>&1
    timeout 60 virsh -q undefine --nvram "$XVM" >/dev/null 2>&1
}
# fd_rw PID PATH: process PID holds PATH open for reading and writing (O_RDWR).
fd_rw() {
    for f in /proc/"$1"/fd/*; do
        [ "$(readlink "$f")" = "$2" ] || continue
        fl=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${f##*/}")
        [ $((0$fl & 3)) -eq 2 ] && return 0
    done
    return 1
}

# A writable pflash loader: a copy of OVMF's code in the VM's directory, readonly='no' (the
# guest may flash it: libvirt 11 grants rwk, 9.0 rk with deny w), with its variable store
# beside it.
loader_vm() {
    FW=$B/fw
    code=/usr/share/OVMF/OVMF_CODE_4M.fd
    setup mkdir -p "$FW" || return
    setup cp "$code" "$FW/OVMF_CODE_4M.fd" || return
    setup cp /usr/share/OVMF/OVMF_VARS_4M.fd "$FW/$VM-loader_VARS.fd" || return
    # Readable and writable by QEMU's user: only AppArmor stands in the way.
    setup chown libvirt-qemu "$FW/OVMF_CODE_4M.fd" "$FW/$VM-loader_VARS.fd" || return
    # format='raw': libvirt 11.3 does not fill it in for a manual loader ("mishandled storage
    # format 'none'"); 9.0 ignores the attribute.
    xvm loader c "    <loader readonly='no' type='pflash' format='raw'>$FW/OVMF_CODE_4M.fd</loader>
    <nvram format='raw'>$FW/$VM-loader_VARS.fd</nvram>" \
        "loader: a VM with a writable pflash loader (readonly='no') and its varstore starts, no denial"
    if [ -n "$XP" ] && fd_rw "$XP" "$FW/OVMF_CODE_4M.fd"; then
        ok "loader: QEMU holds the loader open for writing"
    else
        bad "loader: QEMU holds the loader open for writing" "pid '${XP:-none}'"
    fi
    if [ -n "$XP" ] && fd_rw "$XP" "$FW/$VM-loader_VARS.fd"; then
        ok "loader: QEMU holds the varstore open for writing"
    else
        bad "loader: QEMU holds the varstore open for writing" "pid '${XP:-none}'"
    fi
    xvm_gone
}

# A raw ACPI table (<os><acpi><table type='raw'>, libvirt 11.2): QEMU reads the file when it
# starts (-acpitable file=) and fails to start if it cannot.
acpi_vm() {
    if na acpi-raw "acpi: a VM with a raw ACPI table starts, no denial" "acpi: .files grants the table"; then
        out "INFO op acpi: N/A"
        return
    fi
    T=$B/acpi/vah.dat
    setup mkdir -p "$B/acpi" || return
    # A well-formed table: a 36-byte header (signature, length, checksum...) and 32 bytes.
    setup python3 -c 'import struct, sys
body = b"vah-acpi" * 4
t = bytearray(struct.pack("<4sIBB6s8sI4sI", b"VAHT", 36 + len(body), 1, 0, b"VAHOEM",
                          b"VAHTABLE", 1, b"VAH ", 1) + body)
t[9] = -sum(t) & 0xff
open(sys.argv[1], "wb").write(t)' "$T" || return
    setup chmod a+r "$T" || return
    xvm acpi d "    <acpi>
      <table type='raw'>$T</table>
    </acpi>" "acpi: a VM with a raw ACPI table starts, no denial"
    on_vm "$XVM" "$XU" files_has "acpi: .files grants the table" "$T"
    xvm_gone
}

# A shim (<os><shim>, libvirt 11.2) for direct kernel boot: QEMU maps it when it starts and
# fails to start if it cannot. The kernel is a stand-in: a boot-protocol header whose entry
# halts.
shim_vm() {
    if na shim "shim: a VM with a <shim> (direct kernel boot) starts, no denial" "shim: QEMU maps the shim"; then
        out "INFO op shim: N/A"
        return
    fi
    S=$B/shim
    setup mkdir -p "$S" || return
    setup python3 -c 'import struct, sys
k = bytearray(65536)
k[0x1f1] = 4                      # setup sectors
k[0x1fe:0x200] = b"\x55\xaa"
k[0x200:0x202] = b"\xeb\x66"          # the entry: jmp over the header, to 0x268
k[0x268:0x26c] = b"\xfa\xf4\xeb\xfd"  # cli; hlt; jmp back to hlt
k[0x202:0x206] = b"HdrS"
struct.pack_into("<H", k, 0x206, 0x206)  # boot protocol 2.06
k[0x211] = 1                      # loaded high
open(sys.argv[1], "wb").write(k)' "$S/vmlinuz" || return
    setup sh -c "head -c 4096 /dev/urandom >'$S/shimx64.efi'" || return
    setup chmod a+r "$S/vmlinuz" "$S/shimx64.efi" || return
    xvm shim e "    <kernel>$S/vmlinuz</kernel>
    <shim>$S/shimx64.efi</shim>" "shim: a VM with a <shim> (direct kernel boot) starts, no denial"
    if [ -n "$XP" ] && grep -qF " $S/shimx64.efi" "/proc/$XP/maps"; then
        ok "shim: QEMU maps the shim"
    else
        bad "shim: QEMU maps the shim" "pid '${XP:-none}'"
    fi
    xvm_gone
}

# --- One scenario -------------------------------------------------------------------------------
scenario() {
    NAME=$1
    KIND=$2
    PROF=$3
    UUID=$4
    VM=vah-$NAME
    pass=0
    fail=0
    total_runs=0
    total_compiles=0
    total_ms=0
    out "== scenario $NAME $KIND $PROF"
    # Every UUID of the scenario's VMs (a grep pattern): 00000000-0000-4000-X000-<nth>.
    MINE=00000000-0000-4000-[0-9a-f]000-$(printf %012d "$nth")
    dmesg -C
    scenario_mark=$(log_mark)
    plan
    # Whatever happened, leave nothing running for the next scenario.
    timeout 60 virsh -q destroy "$VM" >/dev/null 2>&1
    timeout 60 virsh -q undefine "$VM" >/dev/null 2>&1
    timeout 60 virsh -q destroy "$VM-nv" >/dev/null 2>&1
    timeout 60 virsh -q undefine --nvram "$VM-nv" >/dev/null 2>&1
    for x in loader acpi shim; do
        timeout 60 virsh -q destroy "$VM-$x" >/dev/null 2>&1
        timeout 60 virsh -q undefine --nvram "$VM-$x" >/dev/null 2>&1
    done
    timeout 60 virsh -q pool-destroy "vah-$NAME" >/dev/null 2>&1
    timeout 60 virsh -q pool-undefine "vah-$NAME" >/dev/null 2>&1
    # Nor any profile of its VMs: a start that failed may leave one loaded, or its .files,
    # which the next scenario's --reload-all (the package's postinst) would count.
    sed -n "s/^\(libvirt-$MINE\) (.*/\1/p" "$AA/profiles" | while read -r p; do
        printf '%s' "$p" >"$AA/.remove"
    done
    rm -f /etc/apparmor.d/libvirt/libvirt-$MINE /etc/apparmor.d/libvirt/libvirt-$MINE.*
    out "-- $NAME: $pass passed, $fail failed"
}

# The package scenario: our helper under our profile, with run.env's DEB set.
packaged() {
    [ "$KIND" = ours ] && [ "$PROF" = ours ] && [ -n "${DEB:-}" ]
}
# aa_hash PROFILE: the kernel's hash of a loaded profile's policy (sha1 in Debian 12's kernel;
# Debian 13's has no sha1 file: sha256).
aa_hash() {
    cat "$AA"/policy/profiles/"$1".*/sha1 "$AA"/policy/profiles/"$1".*/sha256 2>/dev/null | head -n 1
}
# dpkg_md5 PACKAGE PATH: the md5 dpkg recorded for PATH (its md5sums, or its conffiles).
dpkg_md5() {
    { sed -n "s|^\([0-9a-f]*\)  ${2#/}\$|\1|p" "$(dpkg-query --control-path "$1" md5sums)"
      dpkg-query -W -f='${Conffiles}\n' "$1" | awk -v p="$2" '$1 == p { print $2 }'; } | head -n 1
}
LIBVIRT_PROFILE=/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper
# libvirt_files_as_installed: libvirt's helper and profile at their paths, as dpkg installed
# them; else the first difference.
libvirt_files_as_installed() {
    for pf in "$HELPER_PKG $HELPER_PATH" "$PROFILE_PKG $LIBVIRT_PROFILE"; do
        set -- $pf
        if [ -L "$2" ] || [ "$(md5sum <"$2" 2>&1 | cut -d' ' -f1)" != "$(dpkg_md5 "$1" "$2")" ]; then
            echo "$2: $(ls -l "$2" 2>&1), md5 $(md5sum <"$2" 2>&1 | cut -c1-12), dpkg recorded $(dpkg_md5 "$1" "$2" | cut -c1-12)"
            return 1
        fi
        if [ "$(dpkg-divert --truename "$2")" != "$2" ]; then
            echo "$2 is diverted to $(dpkg-divert --truename "$2")"
            return 1
        fi
    done
}
install_package() {
    # libvirt's own files first (the stock scenario replaced them): the package diverts them
    # and must give exactly these back.
    cp -p /usr/lib/libvirt/virt-aa-helper.debian "$HELPER_PATH" &&
        cp -p /etc/apparmor.d/.stock-helper-profile "$LIBVIRT_PROFILE" || return
    if ! w=$(libvirt_files_as_installed); then
        bad "package: libvirt's helper and profile are as dpkg installed them, before" "$w"
        return 1
    fi
    o=$(dpkg -i "$DEB" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && ! printf '%s' "$o" | grep -qi 'warning'; then
        ok "package: dpkg -i installs it; postinst loads the helper profile and runs --reload-all, without a warning"
    else
        bad "package: dpkg -i installs it; postinst loads the helper profile and runs --reload-all, without a warning" "exit $rc: $(printf '%s\n' "$o" | grep -i -m1 'warning\|error' || last "$o")"
    fi
    printf '%s\n' "$o" | grep -E 'reloaded|skipped|nothing to reload' | while read -r l; do out "INFO postinst: $l"; done
    h=$(aa_hash virt-aa-helper)
    if [ -n "$h" ] && [ -n "${STOCK_HASH:-}" ] && [ "$h" != "$STOCK_HASH" ]; then
        ok "package: postinst loaded our helper profile (the kernel's policy hash is no longer libvirt's)"
    else
        bad "package: postinst loaded our helper profile (the kernel's policy hash is no longer libvirt's)" "hash '$h', libvirt's '${STOCK_HASH:-not recorded}'"
    fi
    if [ "$(dpkg-divert --truename "$HELPER_PATH")" = /usr/lib/libvirt/virt-aa-helper.distrib ] &&
        [ "$(dpkg-divert --truename "$LIBVIRT_PROFILE")" = /etc/apparmor.d/libvirt-distrib/usr.lib.libvirt.virt-aa-helper ] &&
        cmp -s /usr/lib/libvirt/virt-aa-helper.debian /usr/lib/libvirt/virt-aa-helper.distrib &&
        cmp -s /etc/apparmor.d/.stock-helper-profile /etc/apparmor.d/libvirt-distrib/usr.lib.libvirt.virt-aa-helper &&
        [ "$(readlink "$LIBVIRT_PROFILE")" = /usr/share/virt-aa-helper/apparmor/usr.lib.libvirt.virt-aa-helper ]; then
        ok "package: libvirt's helper and profile are diverted and kept; ours are in their place"
    else
        bad "package: libvirt's helper and profile are diverted and kept; ours are in their place" "$(dpkg-divert --list | grep virt-aa | tr '\n' ' ') $(ls -l "$LIBVIRT_PROFILE" 2>&1)"
    fi
    # The helper the scenario checks against: the package's own binary.
    PACKAGED=/run/packaged-virt-aa-helper
    dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/lib/libvirt/virt-aa-helper >"$PACKAGED"
    v=$(dpkg --verify virt-aa-helper 2>&1)
    if [ -z "$v" ] && cmp -s "$PACKAGED" "$HELPER_PATH"; then
        ok "package: the installed files are the package's (dpkg --verify)"
    else
        bad "package: the installed files are the package's (dpkg --verify)" "$(last "$v")"
    fi
}
# The running VM's profile is reloaded when the package is installed again (an upgrade),
# beside another domain's profile that does not compile: that one is named, and the
# install does not fail.
reinstall_with_the_vm_running() {
    broken=libvirt-00000000-0000-4000-a000-000000000000
    printf 'profile %s {\n  #include <libvirt/%s.files>\n}\n' "$broken" "$broken" >"/etc/apparmor.d/libvirt/$broken"
    printf '  this is not a rule\n' >"/etc/apparmor.d/libvirt/$broken.files"
    o=$(dpkg -i "$DEB" 2>&1)
    rc=$?
    rm -f "/etc/apparmor.d/libvirt/$broken" "/etc/apparmor.d/libvirt/$broken.files" "/etc/apparmor.d/libvirt/$broken.lock"
    printf '%s\n' "$o" | grep -E '^(reloaded|failed|skipped)|warning' | while read -r l; do out "INFO postinst: $(printf '%s' "$l" | cut -c1-160)"; done
    m=$(kernel_mode)
    if [ $rc -eq 0 ] && printf '%s' "$o" | grep -q '^reloaded 1 of 2 profiles' && [ "$m" = enforce ]; then
        ok "package: dpkg -i again with the VM running: postinst reloads its profile (--reload-all)"
    else
        bad "package: dpkg -i again with the VM running: postinst reloads its profile (--reload-all)" "exit $rc, VM profile '$m': $(printf '%s\n' "$o" | grep -m1 'reloaded\|error' || last "$o")"
    fi
    if [ $rc -eq 0 ] && printf '%s' "$o" | grep -q "^failed $broken: " &&
        printf '%s' "$o" | grep -q 'virt-aa-helper: warning: --reload-all failed'; then
        ok "package: a domain profile that does not compile is named, and fails neither the install nor the other reloads"
    else
        bad "package: a domain profile that does not compile is named, and fails neither the install nor the other reloads" "exit $rc: $(last "$o")"
    fi
}
purge_package() {
    o=$(dpkg -P virt-aa-helper 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && w=$(libvirt_files_as_installed) && [ ! -e /etc/apparmor.d/libvirt-distrib ] &&
        [ ! -e /usr/lib/libvirt/virt-aa-helper.distrib ] && [ ! -e /var/cache/virt-aa-helper ]; then
        ok "package: dpkg -P gives libvirt's helper and profile back, byte for byte (dpkg's md5)"
    else
        bad "package: dpkg -P gives libvirt's helper and profile back, byte for byte (dpkg's md5)" "exit $rc: ${w:-$(last "$o")}"
    fi
    h=$(aa_hash virt-aa-helper)
    if [ -n "$h" ] && [ "$h" = "${STOCK_HASH:-}" ]; then
        ok "package: postrm loaded libvirt's own helper profile again (the kernel's policy hash)"
    else
        bad "package: postrm loaded libvirt's own helper profile again (the kernel's policy hash)" "hash '$h', libvirt's '${STOCK_HASH:-not recorded}'"
    fi
}

install_helper() {
    case $KIND in
    ours) cp "$OURS" "$HELPER_PATH" ;;
    c) cp /usr/lib/libvirt/virt-aa-helper.debian "$HELPER_PATH" ;;
    lexical)
        cp "$OURS" /usr/lib/libvirt/virt-aa-helper.real &&
            printf '#!/bin/sh\nVAH_REAL_HELPER=/usr/lib/libvirt/virt-aa-helper.real exec /bin/sh %s "$@"\n' \
                "$PROJECT/tests/kernel/lexical-helper.sh" >"$HELPER_PATH" &&
            chmod 755 "$HELPER_PATH"
        ;;
    *) return 1 ;;
    esac
}
install_profile() {
    P=/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper
    case $PROF in
    stock) cp /etc/apparmor.d/.stock-helper-profile "$P" && apparmor_parser -r "$P" ;;
    ours)
        # The package's postinst loaded it.
        packaged && return
        cp "$PROJECT/profiles/usr.lib.libvirt.virt-aa-helper" "$P" && apparmor_parser -r "$P"
        ;;
    none)
        if grep -q '^virt-aa-helper ' "$AA/profiles"; then
            printf 'profile virt-aa-helper {}\n' | apparmor_parser -R
        fi
        ;;
    *) return 1 ;;
    esac
}

# --- Operations on a running VM -------------------------------------------------------------
# monitor_chardev CHECK PATH yes|no: QEMU itself opens PATH for appending, as a file chardev
# (the monitor's chardev-add; libvirt hands QEMU a pipe from virtlogd instead, so this is how
# the grant shows): yes, it must succeed (the profile grants the file); no, it must fail with
# EACCES and a DENIED record for the VM's profile and that name.
monitor_chardev() {
    nodes=$((nodes + 1))
    # The file is readable and writable by everyone: only AppArmor stands in the way.
    chmod 666 "$2" 2>/dev/null
    begin
    vsh qemu-monitor-command "$VM" "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"probe$nodes\",\"backend\":{\"type\":\"file\",\"data\":{\"out\":\"$2\",\"append\":true}}}}"
    d=$(new_denials | grep -F "name=\"$2\"")
    if printf '%s' "$o" | grep -q '"return"'; then
        vsh qemu-monitor-command "$VM" "{\"execute\":\"chardev-remove\",\"arguments\":{\"id\":\"probe$nodes\"}}"
        if [ "$3" = yes ]; then ok "$1"; else bad "$1" "QEMU opened it"; fi
    elif [ "$3" = yes ]; then
        bad "$1" "$(last "$o")${d:+; DENIED: $(brief "$d")}"
    elif ! printf '%s' "$o" | grep -q 'Permission denied'; then
        bad "$1" "failed, but not with EACCES: $(last "$o")"
    elif [ -z "$d" ]; then
        bad "$1" "EACCES, but no AppArmor DENIED record for $2 (DAC?)"
    else
        ok "$1"
    fi
}
# tap_reads CHECK: four frames sent into the VM's tap from the host side are read by QEMU
# (tun counts a packet as sent when its reader has read it: tx_packets), with no DENIED
# record for the VM's profile (a profile replaced without /dev/net/tun makes the kernel
# revalidate QEMU's descriptor and deny the read). The NIC is an rtl8139: without a guest
# driver it still takes (and drops) what the tap delivers; virtio-net would not read.
tap_reads() {
    st=/sys/class/net/$TAP/statistics/tx_packets
    if ! b=$(cat "$st" 2>/dev/null); then
        bad "$1" "no $TAP"
        return
    fi
    begin
    if ! so=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i in range(4):
    s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes(46))' "$TAP" 2>&1); then
        bad "$1" "cannot send into $TAP: $(last "$so")"
        return
    fi
    i=0
    while :; do
        a=$(cat "$st" 2>/dev/null || echo "$b")
        [ $((a - b)) -ge 4 ] || [ $i -ge 25 ] && break
        sleep 0.2
        i=$((i + 1))
    done
    d=$(new_denials)
    if [ $((a - b)) -ge 4 ] && [ -z "$d" ]; then
        ok "$1"
    else
        bad "$1" "QEMU read $((a - b)) of 4 frames${d:+; DENIED: $(brief "$d")}"
    fi
}
# probe NAME CMD...: a check (CMD) that is no operation (no helper runs to count), in the
# operations table as NAME.
probe() {
    pn=$1
    shift
    f0=$fail
    "$@"
    if [ "$fail" -eq "$f0" ]; then out "INFO op $pn: PASS"; else out "INFO op $pn: FAIL"; fi
}
# running: a QEMU runs for the VM; else it is started again from its persistent definition
# (so that one failed operation does not fail every later one).
running() {
    [ -n "$(qemu_pid)" ] || timeout 120 virsh -q start "$VM" >/dev/null 2>&1
}

# replug NAME CHECK: the operation NAME: hotplug $HOT2 and unplug it again (the unplug is
# libvirtd's plain -r), QEMU opening and closing it.
replug() {
    begin
    vsh attach-disk "$VM" "$HOT2" sdb --targetbus scsi --subdriver qcow2 --live
    rc=$?
    wait_holds yes "$HOT2"
    [ $rc -eq 0 ] && { vsh detach-disk "$VM" sdb --live; rc=$?; }
    [ $rc -eq 0 ] && ! wait_holds no "$HOT2" && { rc=1; o="QEMU still holds $HOT2"; }
    op "$1" "$2" $rc "$o"
}

operations() {
    # An external disk-only snapshot of vda without metadata: the persistent definition now
    # lists the new overlay (its backing chain unterminated), then a write through it.
    begin
    vsh snapshot-create-as "$VM" --disk-only --no-metadata --atomic \
        --diskspec "vda,snapshot=external,file=$SNAP/vda-1.qcow2" --diskspec vdb,snapshot=no \
        --diskspec vdc,snapshot=no --diskspec hdc,snapshot=no
    op snapshot "snapshot: virsh snapshot-create-as --disk-only --no-metadata, no denial" $? "$o"
    sz=$(stat -c %s "$SNAP/vda-1.qcow2" 2>/dev/null || echo 0)
    begin
    vsh qemu-monitor-command "$VM" --hmp 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x5a 0 64k"'
    rc=$?
    printf '%s' "$o" | grep -qi 'fail\|error\|denied' && rc=1
    sz2=$(stat -c %s "$SNAP/vda-1.qcow2" 2>/dev/null || echo 0)
    if [ $rc -eq 0 ] && [ "$sz2" -le "$sz" ]; then
        rc=1
        o="the overlay did not grow ($sz -> $sz2 bytes): $o"
    fi
    op snapshot-write "snapshot: a write through the monitor (qemu-io) lands in the new overlay, no denial" $rc "$o"
    # A start after the kept snapshot: from the persistent definition that lists the overlay.
    begin
    vsh dumpxml --inactive "$VM"
    rc=$?
    if [ $rc -eq 0 ] && ! printf '%s' "$o" | grep -qF "$SNAP/vda-1.qcow2"; then
        rc=1
        o="the persistent definition does not list the overlay"
    fi
    [ $rc -eq 0 ] && { vsh destroy "$VM"; rc=$?; }
    [ $rc -eq 0 ] && { vsh start "$VM"; rc=$?; }
    op restart "restart after the kept snapshot: virsh destroy, then start (the overlay's chain), no denial" $rc "$o"
    probe restart-holds-base expect_holds "restart after the kept snapshot: QEMU holds the base layer open" yes "$R/images/base.img"
    if [ -z "$(qemu_pid)" ]; then
        # Go on with the first definition.
        timeout 60 virsh -q define "$B/domain.xml" >/dev/null 2>&1
        running
    fi

    begin
    vsh save "$VM" "$JOBS/save.img"
    rc=$?
    [ $rc -eq 0 ] && { vsh restore "$JOBS/save.img"; rc=$?; }
    op save-restore "save: virsh save, then virsh restore, no denial" $rc "$o"
    running
    begin
    vsh managedsave "$VM"
    rc=$?
    [ $rc -eq 0 ] && { vsh start "$VM"; rc=$?; }
    op managedsave "managedsave: virsh managedsave, then virsh start, no denial" $rc "$o"
    running
    begin
    vsh dump "$VM" "$JOBS/dump.elf" --memory-only
    op dump "dump: virsh dump --memory-only, no denial" $? "$o"
    running

    # Hotplug and unplug a disk (the unplug is libvirtd's plain -r), then a DIMM on hugepages:
    # QEMU opens a new file in the domain's hugepage directory, which only the -F of the
    # start granted.
    replug replug "replug: virsh attach-disk, then detach-disk (a plain -r), no denial"
    cat >"$B/dimm.xml" <<EOF
<memory model='dimm'>
  <source><pagesize unit='KiB'>2048</pagesize></source>
  <target><size unit='MiB'>64</size><node>0</node></target>
</memory>
EOF
    begin
    vsh attach-device "$VM" "$B/dimm.xml" --live
    op dimm "dimm: a DIMM on hugepages hotplugs (attach-device --live) after a plain -r, no denial" $? "$o"

    # A file chardev hotplugged (virtio-serial channel).
    cat >"$B/channel.xml" <<EOF
<channel type='file'>
  <source path='$CHR'/>
  <target type='virtio' name='org.vah.test.0'/>
</channel>
EOF
    begin
    vsh attach-device "$VM" "$B/channel.xml" --live
    op chardev-attach "chardev: a file channel hotplugs (attach-device --live), no denial" $? "$o"

    # Block jobs.
    begin
    vsh blockcommit "$VM" vdb --top "$CHAIN/mid.qcow2" --base "$CHAIN/base.qcow2" --wait
    op commit "blockcommit: inactive commit of the middle layer (--top mid --base base --wait), no denial" $? "$o"
    begin
    vsh blockcommit "$VM" vdb --active --pivot --wait
    op commit-active "blockcommit: active commit of the top layer (--active --pivot), no denial" $? "$o"
    timeout 30 virsh -q blockjob "$VM" vdb --abort >/dev/null 2>&1
    begin
    vsh blockpull "$VM" vdc --wait
    op pull "blockpull: virsh blockpull --wait, no denial" $? "$o"
    begin
    vsh blockcopy "$VM" vdc "$PC/copy.qcow2" --format qcow2 --wait --pivot --transient-job
    op copy "blockcopy: to a new file, --pivot (--transient-job), no denial" $? "$o"
    timeout 30 virsh -q blockjob "$VM" vdc --abort >/dev/null 2>&1
    cat >"$B/backup.xml" <<EOF
<domainbackup mode='push'>
  <disks>
    <disk name='vda' type='file'>
      <driver type='qcow2'/>
      <target file='$JOBS/backup-vda.qcow2'/>
    </disk>
    <disk name='vdb' backup='no'/>
    <disk name='vdc' backup='no'/>
    <disk name='hdc' backup='no'/>
  </disks>
</domainbackup>
EOF
    begin
    vsh backup-begin "$VM" "$B/backup.xml"
    rc=$?
    if [ $rc -eq 0 ]; then
        i=0
        while [ $i -lt 150 ] && timeout 30 virsh -q domjobinfo "$VM" 2>/dev/null | grep -q 'Job type: *\(Unbounded\|Bounded\)'; do
            sleep 0.2
            i=$((i + 1))
        done
        vsh domjobinfo "$VM" --completed
        printf '%s' "$o" | grep -q 'Job type: *Completed' || rc=1
        printf '%s' "$o" | grep -q 'Operation: *Backup' || rc=1
        o=$(printf '%s' "$o" | grep 'Job type\|Operation\|rror' | tr -s ' ' | tr '\n' ' ')
    fi
    op backup "backup: push-mode virsh backup-begin, to completion (domjobinfo --completed), no denial" $rc "$o"

    # What QEMU still reaches after one more plain -r (an unplug), and what it no longer
    # reaches: the -F grants of the start (hugepages), the tap (/dev/net/tun), the chardev
    # file the hotplug granted; not the unplugged disk nor the finished jobs' files.
    probe tap tap_reads "tap: QEMU reads its tap (before the last plain -r)"
    probe chardev-open monitor_chardev "chardev: QEMU opens its chardev file (before the last plain -r)" "$CHR" yes
    replug last-unplug "last unplug: virsh attach-disk, then detach-disk (a plain -r), no denial"
    begin
    vsh attach-device "$VM" "$B/dimm.xml" --live
    op after-r:dimm "after the last plain -r: a second DIMM on hugepages hotplugs, no denial" $? "$o"
    probe after-r:tap tap_reads "after the last plain -r: QEMU still reads its tap (/dev/net/tun)"
    probe after-r:chardev monitor_chardev "after the last plain -r: QEMU still opens its chardev file" "$CHR" yes
    # Readable by everyone: only AppArmor stands in the way.
    chmod a+r "$JOBS"/* "$PC"/* 2>/dev/null
    probe after-r:no-disk monitor_denied "after the last plain -r: the unplugged disk is denied" "$HOT2"
    probe after-r:no-copysrc monitor_denied "after the last plain -r: the blockcopy source is denied (after the pivot)" "$PC/top.qcow2"
    probe after-r:no-save monitor_denied "after the last plain -r: the save file is denied" "$JOBS/save.img"
    probe after-r:no-dump monitor_denied "after the last plain -r: the memory dump is denied" "$JOBS/dump.elf"
    begin
    vsh detach-device "$VM" "$B/channel.xml" --live
    op chardev-detach "chardev: detach-device --live, no denial" $? "$o"
    # Not a check: libvirt 9.0 reloads the profile (a plain -r) before it drops the
    # chardev from the live definition, so either helper still grants the file.
    nodes=$((nodes + 1))
    vsh qemu-monitor-command "$VM" "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"probe$nodes\",\"backend\":{\"type\":\"file\",\"data\":{\"out\":\"$CHR\",\"append\":true}}}}"
    if printf '%s' "$o" | grep -q '"return"'; then
        out "INFO chardev: after detach-device QEMU still opens its file"
        vsh qemu-monitor-command "$VM" "{\"execute\":\"chardev-remove\",\"arguments\":{\"id\":\"probe$nodes\"}}"
    else
        out "INFO chardev: after detach-device QEMU cannot open its file: $(last "$o")"
    fi
    rm -f "$JOBS/save.img" "$JOBS/dump.elf" "$JOBS/backup-vda.qcow2"
}

plan() {
    # (Not through setup, which runs in a subshell: the package's checks count here.)
    if packaged; then
        install_package || return
    else
        setup install_helper || return
    fi
    setup install_profile || return
    # libvirt's helper profile as the kernel has it, for the package's purge to compare with.
    [ "$PROF" = stock ] && STOCK_HASH=$(aa_hash virt-aa-helper)
    mode=$(sed -n 's/^virt-aa-helper (\(.*\))$/\1/p' "$AA/profiles")
    want_mode=enforce
    [ "$PROF" = none ] && want_mode=
    if [ "$mode" = "$want_mode" ]; then
        ok "helper: the helper profile ($PROF) is in the kernel as wanted (${mode:-not loaded})"
    else
        bad "helper: the helper profile ($PROF) is in the kernel as wanted (${mode:-not loaded})" "mode '$mode'"
    fi

    # The disk: a qcow2 overlay in real/store/images whose backing file is the relative name
    # base.img (a raw image that alone holds 0xab), named through vms/link ->
    # ../real/store/deep, /./ and a ".." after the symlink: the kernel resolves it to
    # real/store/images; folding ".." as text gives vms/images, where a decoy sits.
    B=/srv/vah/$NAME
    R=$B/real/store
    setup mkdir -p "$R/images" "$R/deep" "$R/hot" "$B/vms/images" "$B/other" "$B/iso" || return
    setup raw "$R/images/base.img" 253 || return
    setup qemu-img create -q -f qcow2 -b base.img -F raw "$R/images/overlay.qcow2" || return
    setup ln -s ../real/store/deep "$B/vms/link" || return
    DISK=$B/vms/./link/../images/overlay.qcow2
    setup qemu-img create -q -f qcow2 "$B/vms/images/overlay.qcow2" 1M || return
    # Another VM's disk, readable by everyone (only AppArmor stands in the way).
    OTHER=$B/other/vm2.img
    setup raw "$OTHER" 253 || return
    # The disk hotplugged later, named through the same symlink and "..".
    setup qemu-img create -q -f qcow2 "$R/hot/plug.qcow2" 1M || return
    HOT=$B/vms/link/../hot/plug.qcow2
    HOT_REAL=$R/hot/plug.qcow2
    ISO=$B/iso/media.iso
    setup raw "$ISO" 151 || return
    # The block jobs' disks: vdb is a 3-layer chain base <- mid <- top (the commits), vdc a
    # 2-layer chain (the pull, then the copy); absolute backing names, as libvirt resolves them.
    CHAIN=$B/chain
    PC=$B/pc
    JOBS=$B/jobs
    SNAP=$B/snap
    CHR=$B/chardev/channel.log
    TAP=vahtap0
    setup mkdir -p "$CHAIN" "$PC" "$JOBS" "$SNAP" "$B/chardev" || return
    setup qemu-img create -q -f qcow2 "$CHAIN/base.qcow2" 1M || return
    setup qemu-img create -q -f qcow2 -b "$CHAIN/base.qcow2" -F qcow2 "$CHAIN/mid.qcow2" || return
    setup qemu-img create -q -f qcow2 -b "$CHAIN/mid.qcow2" -F qcow2 "$CHAIN/top.qcow2" || return
    setup qemu-img create -q -f qcow2 "$PC/base.qcow2" 1M || return
    setup qemu-img create -q -f qcow2 -b "$PC/base.qcow2" -F qcow2 "$PC/top.qcow2" || return
    # The disk of the last unplug.
    setup qemu-img create -q -f qcow2 "$R/hot/plug2.qcow2" 1M || return
    HOT2=$R/hot/plug2.qcow2
    setup chmod -R a+rX /srv/vah || return
    domain_xml >"$B/domain.xml"

    # --- Start ---
    begin
    check "define: virsh define" virsh -q define "$B/domain.xml"
    vsh start "$VM"
    if [ $? -eq 0 ]; then
        ok "start: virsh start"
    else
        he=$(helper_error)
        bad "start: virsh start" "$(last "$o")${he:+; the helper: $he}"
    fi
    phase start "$mark"
    pid=$(qemu_pid)
    label=$(cat "/proc/$pid/attr/current" 2>&1)
    if [ -n "$pid" ] && [ "$label" = "libvirt-$UUID (enforce)" ]; then
        ok "start: QEMU runs as libvirt-<uuid> (enforce)"
    else
        bad "start: QEMU runs as libvirt-<uuid> (enforce)" "pid '${pid:-none}': $label"
    fi
    expect_holds "start: QEMU holds the overlay open (canonical path)" yes "$R/images/overlay.qcow2"
    expect_holds "start: QEMU holds the relative backing file open (canonical path)" yes "$R/images/base.img"
    runs=$(helper_runs "$mark")
    if [ -n "$runs" ] && ! printf '%s\n' "$runs" | grep -vqF -- "-u libvirt-$UUID"; then
        ok "start: every helper run is in libvirtd's log ($(printf '%s\n' "$runs" | grep -c .) runs)"
    else
        bad "start: every helper run is in libvirtd's log" "runs: $(printf '%s' "$runs" | tr '\n' ';')"
    fi
    # Which binary ran: the installed file is the one under test, and the .files it wrote
    # has (ours) or lacks (libvirt's) our provenance comments.
    F=/etc/apparmor.d/libvirt/libvirt-$UUID.files
    case $KIND in
    c) want=/usr/lib/libvirt/virt-aa-helper.debian installed=$HELPER_PATH style=c ;;
    lexical) want=$OURS installed=/usr/lib/libvirt/virt-aa-helper.real style=ours ;;
    *) want=$OURS installed=$HELPER_PATH style=ours ;;
    esac
    packaged && want=$PACKAGED
    if grep -q '# domain base' "$F" 2>/dev/null; then wrote=ours; else wrote=c; fi
    if cmp -s "$want" "$installed" && [ "$wrote" = "$style" ]; then
        ok "start: the helper under test wrote the profile"
    else
        bad "start: the helper under test wrote the profile" "installed $(sha256sum <"$installed" | cut -c1-12), want $(sha256sum <"$want" | cut -c1-12), .files written in $wrote's style"
    fi
    # The per-profile lock: ours keeps its lock file while the VM lives when it could lock
    # it, and removes the file it created when the profile denied the lock (k).
    lockf=/etc/apparmor.d/libvirt/libvirt-$UUID.lock
    want_lock=no
    [ "$KIND" != c ] && [ "$PROF" != stock ] && want_lock=yes
    [ -e "$lockf" ] && have_lock=yes || have_lock=no
    if [ "$have_lock" = "$want_lock" ]; then
        ok "start: the lock file is there exactly when the helper could lock it"
    else
        bad "start: the lock file is there exactly when the helper could lock it" "lock file there: $have_lock, expected: $want_lock"
    fi
    files_has "start: .files grants the overlay's canonical path" "$R/images/overlay.qcow2"
    files_has "start: .files grants the backing file's canonical path" "$R/images/base.img"
    # The negative control ends here. Folding ".." as text fails the start (the checks
    # tests/libvirtd.rs requires to fail are above); every later step needs a running VM, so
    # under the control it could only fail for that same reason, which proves nothing more
    # and took a quarter of the harness's time.
    if [ "$KIND" = lexical ]; then
        out "INFO denials virt-aa-helper: $(denials virt-aa-helper | grep -c .)"
        return
    fi

    packaged && reinstall_with_the_vm_running

    # --- A compromised QEMU ---
    monitor_denied "compromised QEMU: another VM's image is denied" "$OTHER"
    monitor_denied "compromised QEMU: /etc/shadow is denied" /etc/shadow
    nvram_isolation

    # --- Hotplug and unplug (virtio-scsi: no guest OS needs to acknowledge) ---
    begin
    vsh attach-disk "$VM" "$HOT" sda --targetbus scsi --subdriver qcow2 --live
    if [ $? -eq 0 ]; then ok "hotplug: virsh attach-disk (through a symlink and ..)"; else bad "hotplug: virsh attach-disk (through a symlink and ..)" "$(last "$o")"; fi
    phase hotplug "$mark"
    expect_holds "hotplug: QEMU holds the plugged disk open" yes "$HOT_REAL"
    files_has "hotplug: .files grants the plugged disk's canonical path" "$HOT_REAL"
    begin
    vsh detach-disk "$VM" sda --live
    if [ $? -eq 0 ]; then ok "unplug: virsh detach-disk"; else bad "unplug: virsh detach-disk" "$(last "$o")"; fi
    expect_holds "unplug: QEMU closes the unplugged disk" no "$HOT_REAL"
    phase unplug "$mark"
    files_lacks "unplug: .files no longer grants it" "$HOT_REAL"
    monitor_denied "unplug: QEMU can no longer open it" "$HOT_REAL"

    # --- CD-ROM media ---
    monitor_denied "cdrom: the ISO is denied before it is inserted" "$ISO"
    begin
    vsh change-media "$VM" hdc "$ISO" --insert --live
    if [ $? -eq 0 ]; then ok "cdrom: virsh change-media --insert"; else bad "cdrom: virsh change-media --insert" "$(last "$o")"; fi
    phase insert "$mark"
    expect_holds "cdrom: QEMU holds the inserted ISO open" yes "$ISO"
    begin
    vsh change-media "$VM" hdc --eject --live
    if [ $? -eq 0 ]; then ok "cdrom: virsh change-media --eject"; else bad "cdrom: virsh change-media --eject" "$(last "$o")"; fi
    phase eject "$mark"
    expect_holds "cdrom: QEMU closes the ejected ISO" no "$ISO"
    monitor_denied "cdrom: the ISO is denied after it is ejected" "$ISO"

    # --- Operations on a running VM (each: it succeeds, and the kernel logs no DENIED record
    # for the VM's profile meanwhile), then what a plain -r leaves QEMU ---
    operations
    volume_disk

    # --- Destroy and undefine ---
    begin
    vsh destroy "$VM"
    if [ $? -eq 0 ]; then ok "destroy: virsh destroy"; else bad "destroy: virsh destroy" "$(last "$o")"; fi
    phase destroy "$mark"
    m=$(kernel_mode)
    if [ -z "$m" ]; then ok "destroy: the profile leaves the kernel's list"; else bad "destroy: the profile leaves the kernel's list" "still listed ($m)"; fi
    begin
    check "undefine: virsh undefine" virsh -q undefine "$VM"
    phase undefine "$mark"
    left=$(ls -A /etc/apparmor.d/libvirt | grep -F "$UUID" | grep -vx "libvirt-$UUID" | tr '\n' ' ')
    if [ -z "$left" ]; then
        ok "undefine: of this VM's files only the profile libvirt-<uuid> is left (as libvirt 9.0)"
    else
        bad "undefine: of this VM's files only the profile libvirt-<uuid> is left (as libvirt 9.0)" "also: $left"
    fi

    # --- Small VMs of their own: firmware and boot files ---
    loader_vm
    acpi_vm
    shim_vm
    out "INFO calls total: $total_runs helper runs, $total_compiles compiles, $total_ms ms in the helper"

    # --- Every mode, run as libvirtd runs it (exec'd by path, so the kernel attaches the
    # helper profile), for the modes this libvirt does not use in the plan above ---
    modes
    # What the helper said (libvirtd logs each run's stderr): under Debian's profile, our
    # helper warns that it goes on without the lock, once per run, and without the directory
    # fsync, at most once per run (once per run that writes: an -F call that finds its path
    # granted, such as the three at each start, writes nothing); otherwise it says nothing.
    said=$(tail -n +"$((scenario_mark + 1))" "$LOG" | grep -o 'virt-aa-helper: warning: [^\]*' | sed 's/ (Permission denied).*//')
    printf '%s\n' "$said" | grep . | sort | uniq -c | while read -r n rest; do out "INFO helper said x$n: $rest"; done
    unexpected=$said
    if [ "$KIND" = ours ] && [ "$PROF" = stock ]; then
        unexpected=$(printf '%s\n' "$said" | grep . | grep -v "'/etc/apparmor.d/libvirt/libvirt-$MINE.lock': cannot lock\$" |
            grep -v "'/etc/apparmor.d/libvirt': cannot open the directory to fsync it\$")
        nl=$(printf '%s\n' "$said" | grep -c 'cannot lock$')
        nf=$(printf '%s\n' "$said" | grep -c 'to fsync it$')
        all=$(helper_runs "$scenario_mark" | grep -c .)
        [ "$nl" -eq "$all" ] && [ "$nf" -le "$all" ] ||
            unexpected="$nl lock and $nf fsync warnings for $all runs; $unexpected"
    fi
    if [ -z "$unexpected" ]; then
        ok "helper: it warns only of what the profile denies"
    else
        bad "helper: it warns only of what the profile denies" "$(printf '%s' "$unexpected" | head -n 2 | tr '\n' ' ')"
    fi

    # --- What the kernel denied ---
    hd=$(denials virt-aa-helper)
    out "INFO denials virt-aa-helper: $(printf '%s' "$hd" | grep -c .)"
    printf '%s\n' "$hd" | sed -n 's/.*\(operation="[^"]*"\).*\(name="[^"]*"\).*\(denied_mask="[^"]*"\).*/INFO denied virt-aa-helper \1 \2 \3/p' | sort | uniq -c |
        while read -r n rest; do out "$rest x$n"; done
    case $PROF in
    stock)
        # Under Debian's profile only the optional steps may be denied: the lock (k) and
        # the directory open for fsync.
        other=$(printf '%s\n' "$hd" | grep . | grep -v "name=\"/etc/apparmor.d/libvirt/libvirt-$MINE.lock\"" |
            grep -v 'name="/etc/apparmor.d/libvirt/"')
        ;;
    *) other=$hd ;;
    esac
    if [ -z "$other" ]; then
        ok "denials: the helper met no AppArmor denial it cannot do without"
    else
        bad "denials: the helper met no AppArmor denial it cannot do without" "$(printf '%s\n' "$other" | head -n 3 | sed 's/.*apparmor=/apparmor=/' | tr '\n' ' ')"
    fi
    vd=$(denials "libvirt-$UUID" | grep -vF "name=\"$OTHER\"" | grep -vF 'name="/etc/shadow"' |
        grep -vF "name=\"$ISO\"" | grep -vF "name=\"$HOT_REAL\"" | grep -vF "name=\"$HOT2\"" |
        grep -vF "name=\"$PC/top.qcow2\"" | grep -vF "name=\"$JOBS/save.img\"" |
        grep -vF "name=\"$JOBS/dump.elf\"" | grep -vF "name=\"$CHR\"" |
        grep -vF "name=\"$V2\"" | grep -vF "name=\"$MS2\"" | grep -vF "name=\"$VOL\"")
    if [ -z "$vd" ]; then
        ok "denials: the VM's only denials are the ones the checks provoke"
    else
        bad "denials: the VM's only denials are the ones the checks provoke" "$(printf '%s\n' "$vd" | head -n 3 | sed 's/.*apparmor=/apparmor=/' | tr '\n' ' ')"
    fi
    packaged && purge_package
}

main() {
preamble
# The scenarios run one after another (one libvirtd); each has its own VM, UUID and images.
nth=0
for spec in $SCENARIOS; do
    nth=$((nth + 1))
    n=${spec%%:*}
    rest=${spec#*:}
    scenario "$n" "${rest%%:*}" "${rest#*:}" "$(printf '00000000-0000-4000-8000-%012d' "$nth")"
done
NAME=
dmesg | grep 'apparmor="DENIED"' | tail -n 40
tail -n 30 "$LOG"
}

# PID 1 must reap the orphans: QEMU daemonizes, so its parent is init, and libvirtd waits for
# a killed QEMU to disappear (kill -0) before it goes on; a zombie nobody reaps made every
# capabilities probe and destroy wait for libvirt's SIGKILL time-outs. dash's wait reaps every
# child while the plan runs in the background.
main &
wait
finish
