//! The runtime-grant ledger (`src/ledger.rs`, `src/rules/runtime.rs`,
//! `docs/runtime-grants.md`) with the real binary, a real hugetlbfs mount, the real
//! `/dev/net/tun` and a recording parser that compiles every load with the real
//! `apparmor_parser`: libvirtd's `-r -F` grants that belong to the VM survive its plain `-r`
//! until `-D`, transient ones do not, a grant that left the XML or is no longer the VM's is
//! revoked, a restricted or planted one is never kept, and a crash loses no entry.
//!
//! Runs as root (CI does): it mounts a hugetlbfs in a temporary directory.

use crate::support::*;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

const NAME: &str = "ledger-vm";
const ID: &str = "7";
const MARK: &str = "  # runtime grant, kept until the VM stops: ";

/// A hugetlbfs mounted in a temporary directory, unmounted when dropped.
struct Huge {
    dir: PathBuf,
}

impl Huge {
    fn mount(t: &Tree) -> Self {
        assert!(
            is_root(),
            "tests/it/runtime_grants.rs mounts a hugetlbfs: run as root"
        );
        let dir = t.dir("huge");
        let o = Command::new("mount")
            .args(["-t", "hugetlbfs", "none"])
            .arg(&dir)
            .output()
            .expect("run mount");
        assert!(
            o.status.success(),
            "mount -t hugetlbfs: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Huge { dir }
    }

    /// libvirt's layout on a hugetlbfs mount: `<mount>/libvirt/qemu/<id>-<name>`.
    fn domain_dir(&self, short: &str) -> PathBuf {
        let d = self.dir.join("libvirt/qemu").join(short);
        fs::create_dir_all(&d).expect("mkdir in hugetlbfs");
        d
    }
}

impl Drop for Huge {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// The helper on [`PROFILE`] with `args`, the domain `xml` on its standard input.
fn run_vm(h: &Host, args: &[&str], xml: &str) -> HostRun {
    let mut all = args.to_vec();
    all.extend(["-u", PROFILE]);
    h.run(&all, Some(xml))
}

/// [`run_vm`], which must succeed: its standard error.
fn ok(h: &Host, args: &[&str], xml: &str) -> String {
    let o = run_vm(h, args, xml);
    assert!(o.status.success(), "{args:?}: {}", o.stderr);
    o.run.stderr
}

/// The ledger lines of `.files`.
fn ledger(h: &Host) -> Vec<String> {
    h.files_text()
        .lines()
        .filter_map(|l| l.strip_prefix(MARK))
        .map(str::to_string)
        .collect()
}

/// Whether `.files` has an allow rule for exactly `pattern`.
fn grants(h: &Host, pattern: &str) -> bool {
    let want = format!("  \"{pattern}\" rwk,");
    h.files_text().lines().any(|l| l.starts_with(&want))
}

/// Parser runs since the last call.
fn compiles(h: &Host) -> usize {
    h.parser.take_calls().len()
}

/// The running domain `7-ledger-vm`, with a disk per path in `disks` and, if `nic`, an
/// `<interface type='ethernet'>` (libvirtd opens `/dev/net/tun` for it).
fn xml(disks: &[&str], nic: bool) -> String {
    let mut devices = String::new();
    for (i, d) in disks.iter().enumerate() {
        devices.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{d}'/><target dev='vd{}' bus='virtio'/></disk>\n",
            char::from(b'a' + i as u8)
        ));
    }
    if nic {
        devices.push_str(
            "<interface type='ethernet'><target dev='vnet7' managed='yes'/><model type='virtio'/></interface>\n",
        );
    }
    format!(
        "<domain type='kvm' id='{ID}'><name>{NAME}</name><uuid>{UUID}</uuid><memory>524288</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <emulator>/usr/bin/qemu-system-x86_64</emulator>\n{devices}</devices></domain>"
    )
}

#[test]
fn vm_grants_survive_a_plain_replace_until_delete_and_transient_ones_do_not() {
    let e = Host::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let disk = e.tree.file("images/vm.img", b"");
    let save = e.tree.file("save/vm.save", b"");
    let dump = e.tree.file("dump/vm.core", b"");
    let x = xml(&[disk.to_str().unwrap()], true);
    let hp_arg = format!("{}/{{,**}}", hp.display());

    ok(&e, &["-c"], &x);
    ok(&e, &["-r", "-F", "/dev/net/tun"], &x);
    ok(&e, &["-r", "-F", &hp_arg], &x);
    ok(&e, &["-r", "-F", save.to_str().unwrap()], &x);
    ok(&e, &["-r", "-F", dump.to_str().unwrap()], &x);
    assert_eq!(compiles(&e), 5, "-c and four new grants: one compile each");
    assert_eq!(
        ledger(&e),
        vec![
            "file /dev/net/tun".to_string(),
            format!("subtree {}", hp.display())
        ]
    );
    for p in [
        "/dev/net/tun",
        &hp_arg,
        save.to_str().unwrap(),
        dump.to_str().unwrap(),
    ] {
        assert!(
            grants(&e, p),
            "{p} granted after its -F:\n{}",
            e.files_text()
        );
    }

    // libvirtd's label restore after an unplug: the VM's grants stay, the save and dump
    // files go.
    ok(&e, &["-r"], &x);
    assert_eq!(compiles(&e), 1);
    assert!(grants(&e, "/dev/net/tun"), "{}", e.files_text());
    assert!(grants(&e, &hp_arg), "{}", e.files_text());
    assert!(!grants(&e, save.to_str().unwrap()), "{}", e.files_text());
    assert!(!grants(&e, dump.to_str().unwrap()), "{}", e.files_text());
    assert_eq!(ledger(&e).len(), 2);
    // The kept rules name what keeps them.
    assert!(e.files_text().contains(&format!(
        "  \"{hp_arg}\" rwk,  # runtime -F kept until -D: hugepage backing on a hugetlbfs mount\n"
    )));
    assert!(e.files_text().contains(
        "  \"/dev/net/tun\" rwk,  # runtime -F kept until -D: a tap device of interface 0\n"
    ));

    // Twice more: unchanged, and a repeated -F of a kept path compiles nothing.
    let before = e.files_text();
    ok(&e, &["-r"], &x);
    ok(&e, &["-r", "-F", "/dev/net/tun"], &x);
    ok(&e, &["-r", "-F", &hp_arg], &x);
    assert_eq!(e.files_text(), before);
    assert_eq!(
        compiles(&e),
        1,
        "only the plain -r loads (the cache is off here)"
    );

    // -D ends the VM: .files and its ledger go; the next start regenerates without them.
    ok(&e, &["-D"], &x);
    assert!(!e.policy.files().exists());
    ok(&e, &["-r"], &x);
    assert!(ledger(&e).is_empty(), "{}", e.files_text());
    assert!(
        !grants(&e, "/dev/net/tun") && !grants(&e, &hp_arg),
        "{}",
        e.files_text()
    );
}

#[test]
fn a_grant_whose_reason_left_is_revoked_at_the_next_replace() {
    let e = Host::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let hp_arg = format!("{}/{{,**}}", hp.display());
    let disk = e.tree.file("images/vm.img", b"");
    let hot = e.tree.file("images/hot.img", b"");
    let (disk, hot) = (disk.to_str().unwrap(), hot.to_str().unwrap());

    ok(&e, &["-c"], &xml(&[disk], true));
    ok(&e, &["-r", "-F", "/dev/net/tun"], &xml(&[disk], true));
    ok(&e, &["-r", "-F", &hp_arg], &xml(&[disk], true));
    // Hotplug: libvirtd -F's the image, then the disk is in the XML.
    ok(&e, &["-r", "-F", hot], &xml(&[disk], true));
    assert!(grants(&e, hot));
    ok(&e, &["-r"], &xml(&[disk, hot], true));
    assert!(grants(&e, hot), "the plugged disk is granted from the XML");
    // Unplug the disk and the NIC: both lose their grants; the hugepages stay.
    let said = ok(&e, &["-r"], &xml(&[disk], false));
    assert!(!grants(&e, hot), "{}", e.files_text());
    assert!(!grants(&e, "/dev/net/tun"), "{}", e.files_text());
    assert!(grants(&e, &hp_arg), "{}", e.files_text());
    assert!(
        said.contains("runtime grant '/dev/net/tun' dropped: it is no longer the running VM's"),
        "{said}"
    );
    // The hugepage directory removed (the VM's memory went): dropped silently.
    fs::remove_dir(&hp).unwrap();
    let said = ok(&e, &["-r"], &xml(&[disk], false));
    assert!(
        ledger(&e).is_empty() && !grants(&e, &hp_arg),
        "{}",
        e.files_text()
    );
    assert!(!said.contains("runtime grant"), "{said}");
}

#[test]
fn restricted_foreign_and_planted_paths_are_never_kept() {
    let e = Host::new();
    let huge = Huge::mount(&e.tree);
    let own = huge.domain_dir(&format!("{ID}-{NAME}"));
    let other = huge.domain_dir("8-other");
    let x = xml(&[], true);
    ok(&e, &["-c"], &x);

    // Refused as any -F: nothing written, nothing kept.
    let before = e.files_text();
    let o = run_vm(&e, &["-r", "-F", "/etc/shadow"], &x);
    assert!(!o.status.success(), "/etc/shadow must be refused");
    assert_eq!(e.files_text(), before);

    // Another domain's directory on a hugetlbfs mount outside the shared table's
    // /dev/hugepages: not this domain's <id>-<name>, so not one of its runtime
    // directories, and a subtree is granted for nothing else.
    let other_arg = format!("{}/{{,**}}", other.display());
    let o = run_vm(&e, &["-r", "-F", &other_arg], &x);
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert_eq!(e.files_text(), before);

    // Planted ledger lines (as if written by someone else): each judged anew on -r. The
    // own directory reached through a symbolic link resolves elsewhere; /etc/shadow and
    // the other domain's directory are not the VM's.
    let link = e.tree.symlink("link", &own);
    let planted = format!(
        "{}{MARK}file /etc/shadow\n  \"/etc/shadow\" rwk,\n{MARK}subtree {}\n{MARK}subtree {}\n{MARK}subtree {}\n",
        e.files_text(),
        other.display(),
        link.display(),
        own.display(),
    );
    fs::write(e.policy.files(), planted).unwrap();
    let said = ok(&e, &["-r"], &x);
    assert_eq!(ledger(&e), vec![format!("subtree {}", own.display())]);
    assert!(
        !e.files_text().contains("/etc/shadow"),
        "{}",
        e.files_text()
    );
    assert!(!grants(&e, &format!("{}/{{,**}}", other.display())));
    for why in [
        "runtime grant '/etc/shadow' dropped: it is no longer the running VM's".to_string(),
        format!(
            "runtime grant '{}' dropped: it is no longer the running VM's",
            other.display()
        ),
        format!(
            "runtime grant '{}' dropped: it now resolves to '{}'",
            link.display(),
            own.display()
        ),
    ] {
        assert!(said.contains(&why), "want {why:?} in:\n{said}");
    }
}

#[test]
fn a_crash_mid_write_loses_no_entry() {
    let e = Host::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let hp_arg = format!("{}/{{,**}}", hp.display());
    let x = xml(&[], true);
    ok(&e, &["-c"], &x);
    // A parser that kills the helper: the run dies after its writes, before its load.
    let killer = e.tree.path("kill-parser");
    write_executable(&killer, b"#!/bin/sh\nkill -9 $PPID\nsleep 5\n", 0o755);
    let killer = killer.display().to_string();
    let o = run_vm(&e, &["-r", "-F", "/dev/net/tun", "--parser", &killer], &x);
    assert!(!o.status.success());
    let o = run_vm(&e, &["-r", "-F", &hp_arg, "--parser", &killer], &x);
    assert!(!o.status.success());
    assert_eq!(ledger(&e).len(), 2, "{}", e.files_text());
    let o = run_vm(&e, &["-r", "--parser", &killer], &x);
    assert!(!o.status.success());
    assert_eq!(ledger(&e).len(), 2, "{}", e.files_text());
    // No temporary file is mistaken for the ledger, and the next -r keeps both.
    ok(&e, &["-r"], &x);
    assert!(
        grants(&e, "/dev/net/tun") && grants(&e, &hp_arg),
        "{}",
        e.files_text()
    );
    // Every profile that was loaded compiled for real (the recording parser).
    e.policy.compile(&e.policy.profile());
}

/// `-F DIR/{,**}` grants a directory with everything below it only when
/// DIR is one of this running domain's runtime directories (its private and channel
/// directories, memory backing, hugepages, a configured `memory_backing_dir`); and a
/// trailing `{,**}` is a subtree only when no file of that literal name exists.
#[test]
fn subtrees_only_for_the_domains_own_runtime_directories() {
    let e = Host::new();
    let x = xml(&[], false);
    ok(&e, &["-c"], &x);
    let before = e.files_text();

    // A volume named `{,**}` in a shared pool (`virsh vol-create-as shared '{,**}'`, then
    // attached): the argument is that file, escaped, never the pool with everything below.
    let pool = e.tree.dir("srv/vm/shared");
    e.tree.file("srv/vm/shared/other.img", b"another VM's disk");
    let vol = e.tree.file("srv/vm/shared/{,**}", b"a volume");
    let arg = format!("{}/{{,**}}", pool.display());
    ok(&e, &["-r", "-F", &arg], &x);
    let want = format!("{}/\\{{\\,\\*\\*\\}}", pool.display());
    assert!(grants(&e, &want), "want {want:?} in:\n{}", e.files_text());
    assert!(!grants(&e, &arg), "{}", e.files_text());
    e.policy.compile(&e.policy.profile());
    fs::remove_file(&vol).unwrap();
    ok(&e, &["-r"], &x);
    assert_eq!(e.files_text(), before);

    // Without that file, the same argument names the pool with everything below it, which
    // is no runtime directory of the domain: refused (exit 3), one line naming the path,
    // nothing written. So is every host USB device, and a deep directory of the admin's.
    let usb = e.tree.dir("dev/bus/usb");
    for dir in [&pool, &usb, &e.tree.dir("a/b/c/d")] {
        let arg = format!("{}/{{,**}}", dir.display());
        let o = run_vm(&e, &["-r", "-F", &arg], &x);
        let err = &o.stderr;
        assert_eq!(o.status.code(), Some(3), "{arg}: {err}");
        assert!(
            err.contains(&format!("'{}'", dir.display()))
                && err.contains("not one of this domain's runtime directories"),
            "{err}"
        );
        assert_eq!(e.files_text(), before, "{arg}");
    }
    assert_eq!(
        compiles(&e),
        3,
        "only the -c, the volume's -F and its -r compiled"
    );

    // memory_backing_dir = DIR in the configuration (qemu.conf's setting moved): the
    // domain's own <id>-<name> entry there is its runtime directory, another's is not.
    let backing = e.tree.dir("membacking");
    let own = e.tree.dir(&format!("membacking/{ID}-{NAME}"));
    let other = e.tree.dir("membacking/8-other");
    let conf = e.tree.file(
        "helper.conf",
        format!("memory_backing_dir = {}\n", backing.display()).as_bytes(),
    );
    fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let conf = conf.display().to_string();
    let own_arg = format!("{}/{{,**}}", own.display());
    let other_arg = format!("{}/{{,**}}", other.display());
    let o = run_vm(&e, &["-r", "-F", &own_arg], &x);
    assert_eq!(
        o.status.code(),
        Some(3),
        "without the setting: {}",
        o.stderr
    );
    ok(&e, &["-r", "-F", &own_arg, "--config", &conf], &x);
    assert!(grants(&e, &own_arg), "{}", e.files_text());
    assert_eq!(ledger(&e), vec![format!("subtree {}", own.display())]);
    let o = run_vm(&e, &["-r", "-F", &other_arg, "--config", &conf], &x);
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
}

/// The running domain `7-ledger-vm` with one VFIO PCI hostdev, `driver` its `<driver>`.
fn hostdev_xml(driver: &str, extra_root: &str) -> String {
    format!(
        "<domain type='kvm' id='{ID}'><name>{NAME}</name><uuid>{UUID}</uuid><memory>524288</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>{extra_root}<devices>\
         <emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <hostdev mode='subsystem' type='pci' managed='yes'>{driver}<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>\
         </devices></domain>"
    )
}

/// libvirt 12.1: for a hostdev assigned through IOMMUFD libvirtd `-F`s the VFIO cdev and
/// then `/dev/iommu`, and libvirt's 12.x helper writes them `rwm` (QEMU mmaps both);
/// every other `-F` keeps `rwk`. They are transient like any host device node: a plain
/// `-r` drops them. A domain that assigns nothing through IOMMUFD gets neither.
#[test]
fn iommufd_nodes_get_rwm_for_any_domain_as_a_vfio_group_does() {
    let env = Host::new();
    let xml = hostdev_xml("<driver name='vfio' iommufd='yes'/>", "");
    ok(&env, &["-c"], &xml);
    compiles(&env);
    let rule = |p: &str, perms: &str| format!("  \"{p}\" {perms},");
    for p in ["/dev/vfio/devices/vfio0", "/dev/iommu"] {
        ok(&env, &["-r", "-F", p], &xml);
        assert!(
            env.files_text()
                .lines()
                .any(|l| l.starts_with(&rule(p, "rwm"))),
            "{p}: {}",
            env.files_text()
        );
        assert!(
            !grants(&env, p),
            "{p} must not be rwk: {}",
            env.files_text()
        );
        assert_eq!(compiles(&env), 1, "{p}");
    }
    assert!(ledger(&env).is_empty(), "{:?}", ledger(&env));
    // Any other -F keeps rwk.
    ok(&env, &["-r", "-F", "/dev/vfio/12"], &xml);
    assert!(grants(&env, "/dev/vfio/12"), "{}", env.files_text());
    // A plain -r regenerates .files from the XML: the device nodes are gone.
    ok(&env, &["-r"], &xml);
    for p in ["/dev/vfio/devices/vfio0", "/dev/iommu", "/dev/vfio/12"] {
        assert!(!env.files_text().contains(p), "{p}: {}", env.files_text());
    }
    // A domain without an IOMMUFD device gets them too, as a VFIO group: libvirtd's -F at
    // the hotplug of its first such device comes before the device is in the XML.
    for legacy in [
        hostdev_xml("<driver name='vfio'/>", ""),
        hostdev_xml(
            "<driver name='vfio' iommufd='no'/>",
            "<iommufd enabled='no'/>",
        ),
    ] {
        ok(&env, &["-r"], &legacy);
        for p in ["/dev/vfio/devices/vfio0", "/dev/iommu"] {
            ok(&env, &["-r", "-F", p], &legacy);
            assert!(
                env.files_text()
                    .lines()
                    .any(|l| l.starts_with(&rule(p, "rwm"))),
                "{p}: {}",
                env.files_text()
            );
        }
    }
    // Nothing else in /dev/vfio/devices.
    let o = run_vm(&env, &["-r", "-F", "/dev/vfio/devices/x"], &xml);
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
}
