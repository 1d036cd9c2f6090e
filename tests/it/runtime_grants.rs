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
use std::path::{Path, PathBuf};
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

struct Env {
    policy: Policy,
    parser: RecordingParser,
    tree: Tree,
}

impl Env {
    fn new() -> Self {
        Env {
            policy: Policy::new(),
            parser: RecordingParser::new(),
            tree: Tree::new(),
        }
    }

    fn run_with(&self, parser: &Path, args: &[&str], xml: &str) -> Run {
        let dir = self.policy.dir.display().to_string();
        let parser = parser.display().to_string();
        let cache = self.tree.path("no-cache").display().to_string();
        let mut all = args.to_vec();
        all.extend([
            "-u",
            PROFILE,
            "--apparmor-dir",
            &dir,
            "--parser",
            &parser,
            "--cache-dir",
            &cache,
        ]);
        run(&all, Some(xml))
    }

    fn ok(&self, args: &[&str], xml: &str) -> String {
        let o = self.run_with(&self.parser.script, args, xml);
        assert!(o.status.success(), "{args:?}: {}", o.stderr);
        o.stderr
    }

    fn files(&self) -> String {
        self.policy
            .read(&format!("{PROFILE}.files"))
            .unwrap_or_default()
    }

    /// The ledger lines of `.files`.
    fn ledger(&self) -> Vec<String> {
        self.files()
            .lines()
            .filter_map(|l| l.strip_prefix(MARK))
            .map(str::to_string)
            .collect()
    }

    /// Whether `.files` has an allow rule for exactly `pattern`.
    fn grants(&self, pattern: &str) -> bool {
        let want = format!("  \"{pattern}\" rwk,");
        self.files().lines().any(|l| l.starts_with(&want))
    }

    /// Parser runs since the last call.
    fn compiles(&self) -> usize {
        self.parser.take_calls().len()
    }
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
    let e = Env::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let disk = e.tree.file("images/vm.img", b"");
    let save = e.tree.file("save/vm.save", b"");
    let dump = e.tree.file("dump/vm.core", b"");
    let x = xml(&[disk.to_str().unwrap()], true);
    let hp_arg = format!("{}/{{,**}}", hp.display());

    e.ok(&["-c"], &x);
    e.ok(&["-r", "-F", "/dev/net/tun"], &x);
    e.ok(&["-r", "-F", &hp_arg], &x);
    e.ok(&["-r", "-F", save.to_str().unwrap()], &x);
    e.ok(&["-r", "-F", dump.to_str().unwrap()], &x);
    assert_eq!(e.compiles(), 5, "-c and four new grants: one compile each");
    assert_eq!(
        e.ledger(),
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
        assert!(e.grants(p), "{p} granted after its -F:\n{}", e.files());
    }

    // libvirtd's label restore after an unplug: the VM's grants stay, the save and dump
    // files go.
    e.ok(&["-r"], &x);
    assert_eq!(e.compiles(), 1);
    assert!(e.grants("/dev/net/tun"), "{}", e.files());
    assert!(e.grants(&hp_arg), "{}", e.files());
    assert!(!e.grants(save.to_str().unwrap()), "{}", e.files());
    assert!(!e.grants(dump.to_str().unwrap()), "{}", e.files());
    assert_eq!(e.ledger().len(), 2);
    // The kept rules name what keeps them.
    assert!(e.files().contains(&format!(
        "  \"{hp_arg}\" rwk,  # runtime -F kept until -D: hugepage backing on a hugetlbfs mount\n"
    )));
    assert!(e.files().contains(
        "  \"/dev/net/tun\" rwk,  # runtime -F kept until -D: a tap device of interface 0\n"
    ));

    // Twice more: unchanged, and a repeated -F of a kept path compiles nothing.
    let before = e.files();
    e.ok(&["-r"], &x);
    e.ok(&["-r", "-F", "/dev/net/tun"], &x);
    e.ok(&["-r", "-F", &hp_arg], &x);
    assert_eq!(e.files(), before);
    assert_eq!(
        e.compiles(),
        1,
        "only the plain -r loads (the cache is off here)"
    );

    // -D ends the VM: .files and its ledger go; the next start regenerates without them.
    e.ok(&["-D"], &x);
    assert!(!e.policy.files().exists());
    e.ok(&["-r"], &x);
    assert!(e.ledger().is_empty(), "{}", e.files());
    assert!(
        !e.grants("/dev/net/tun") && !e.grants(&hp_arg),
        "{}",
        e.files()
    );
}

#[test]
fn a_grant_whose_reason_left_is_revoked_at_the_next_replace() {
    let e = Env::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let hp_arg = format!("{}/{{,**}}", hp.display());
    let disk = e.tree.file("images/vm.img", b"");
    let hot = e.tree.file("images/hot.img", b"");
    let (disk, hot) = (disk.to_str().unwrap(), hot.to_str().unwrap());

    e.ok(&["-c"], &xml(&[disk], true));
    e.ok(&["-r", "-F", "/dev/net/tun"], &xml(&[disk], true));
    e.ok(&["-r", "-F", &hp_arg], &xml(&[disk], true));
    // Hotplug: libvirtd -F's the image, then the disk is in the XML.
    e.ok(&["-r", "-F", hot], &xml(&[disk], true));
    assert!(e.grants(hot));
    e.ok(&["-r"], &xml(&[disk, hot], true));
    assert!(e.grants(hot), "the plugged disk is granted from the XML");
    // Unplug the disk and the NIC: both lose their grants; the hugepages stay.
    let said = e.ok(&["-r"], &xml(&[disk], false));
    assert!(!e.grants(hot), "{}", e.files());
    assert!(!e.grants("/dev/net/tun"), "{}", e.files());
    assert!(e.grants(&hp_arg), "{}", e.files());
    assert!(
        said.contains("runtime grant '/dev/net/tun' dropped: it is no longer the running VM's"),
        "{said}"
    );
    // The hugepage directory removed (the VM's memory went): dropped silently.
    fs::remove_dir(&hp).unwrap();
    let said = e.ok(&["-r"], &xml(&[disk], false));
    assert!(e.ledger().is_empty() && !e.grants(&hp_arg), "{}", e.files());
    assert!(!said.contains("runtime grant"), "{said}");
}

#[test]
fn restricted_foreign_and_planted_paths_are_never_kept() {
    let e = Env::new();
    let huge = Huge::mount(&e.tree);
    let own = huge.domain_dir(&format!("{ID}-{NAME}"));
    let other = huge.domain_dir("8-other");
    let x = xml(&[], true);
    e.ok(&["-c"], &x);

    // Refused as any -F: nothing written, nothing kept.
    let before = e.files();
    let o = e.run_with(&e.parser.script, &["-r", "-F", "/etc/shadow"], &x);
    assert!(!o.status.success(), "/etc/shadow must be refused");
    assert_eq!(e.files(), before);

    // Another domain's directory on a hugetlbfs mount outside the shared table's
    // /dev/hugepages: not this domain's <id>-<name>, so not one of its runtime
    // directories, and a subtree is granted for nothing else.
    let other_arg = format!("{}/{{,**}}", other.display());
    let o = e.run_with(&e.parser.script, &["-r", "-F", &other_arg], &x);
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert_eq!(e.files(), before);

    // Planted ledger lines (as if written by someone else): each judged anew on -r. The
    // own directory reached through a symbolic link resolves elsewhere; /etc/shadow and
    // the other domain's directory are not the VM's.
    let link = e.tree.symlink("link", &own);
    let planted = format!(
        "{}{MARK}file /etc/shadow\n  \"/etc/shadow\" rwk,\n{MARK}subtree {}\n{MARK}subtree {}\n{MARK}subtree {}\n",
        e.files(),
        other.display(),
        link.display(),
        own.display(),
    );
    fs::write(e.policy.files(), planted).unwrap();
    let said = e.ok(&["-r"], &x);
    assert_eq!(e.ledger(), vec![format!("subtree {}", own.display())]);
    assert!(!e.files().contains("/etc/shadow"), "{}", e.files());
    assert!(!e.grants(&format!("{}/{{,**}}", other.display())));
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
    let e = Env::new();
    let huge = Huge::mount(&e.tree);
    let hp = huge.domain_dir(&format!("{ID}-{NAME}"));
    let hp_arg = format!("{}/{{,**}}", hp.display());
    let x = xml(&[], true);
    e.ok(&["-c"], &x);
    // A parser that kills the helper: the run dies after its writes, before its load.
    let killer = e
        .tree
        .file("kill-parser", b"#!/bin/sh\nkill -9 $PPID\nsleep 5\n");
    Command::new("chmod")
        .arg("755")
        .arg(&killer)
        .status()
        .unwrap();
    let o = e.run_with(&killer, &["-r", "-F", "/dev/net/tun"], &x);
    assert!(!o.status.success());
    let o = e.run_with(&killer, &["-r", "-F", &hp_arg], &x);
    assert!(!o.status.success());
    assert_eq!(e.ledger().len(), 2, "{}", e.files());
    let o = e.run_with(&killer, &["-r"], &x);
    assert!(!o.status.success());
    assert_eq!(e.ledger().len(), 2, "{}", e.files());
    // No temporary file is mistaken for the ledger, and the next -r keeps both.
    e.ok(&["-r"], &x);
    assert!(
        e.grants("/dev/net/tun") && e.grants(&hp_arg),
        "{}",
        e.files()
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
    let e = Env::new();
    let x = xml(&[], false);
    e.ok(&["-c"], &x);
    let before = e.files();

    // A volume named `{,**}` in a shared pool (`virsh vol-create-as shared '{,**}'`, then
    // attached): the argument is that file, escaped, never the pool with everything below.
    let pool = e.tree.dir("srv/vm/shared");
    e.tree.file("srv/vm/shared/other.img", b"another VM's disk");
    let vol = e.tree.file("srv/vm/shared/{,**}", b"a volume");
    let arg = format!("{}/{{,**}}", pool.display());
    e.ok(&["-r", "-F", &arg], &x);
    let want = format!("{}/\\{{\\,\\*\\*\\}}", pool.display());
    assert!(e.grants(&want), "want {want:?} in:\n{}", e.files());
    assert!(!e.grants(&arg), "{}", e.files());
    e.policy.compile(&e.policy.profile());
    fs::remove_file(&vol).unwrap();
    e.ok(&["-r"], &x);
    assert_eq!(e.files(), before);

    // Without that file, the same argument names the pool with everything below it, which
    // is no runtime directory of the domain: refused (exit 3), one line naming the path,
    // nothing written. So is every host USB device, and a deep directory of the admin's.
    let usb = e.tree.dir("dev/bus/usb");
    for dir in [&pool, &usb, &e.tree.dir("a/b/c/d")] {
        let arg = format!("{}/{{,**}}", dir.display());
        let o = e.run_with(&e.parser.script, &["-r", "-F", &arg], &x);
        let err = o.stderr;
        assert_eq!(o.status.code(), Some(3), "{arg}: {err}");
        assert!(
            err.contains(&format!("'{}'", dir.display()))
                && err.contains("not one of this domain's runtime directories"),
            "{err}"
        );
        assert_eq!(e.files(), before, "{arg}");
    }
    assert_eq!(
        e.compiles(),
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
    let o = e.run_with(&e.parser.script, &["-r", "-F", &own_arg], &x);
    assert_eq!(
        o.status.code(),
        Some(3),
        "without the setting: {}",
        o.stderr
    );
    e.ok(&["-r", "-F", &own_arg, "--config", &conf], &x);
    assert!(e.grants(&own_arg), "{}", e.files());
    assert_eq!(e.ledger(), vec![format!("subtree {}", own.display())]);
    let o = e.run_with(
        &e.parser.script,
        &["-r", "-F", &other_arg, "--config", &conf],
        &x,
    );
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
    let env = Env::new();
    let xml = hostdev_xml("<driver name='vfio' iommufd='yes'/>", "");
    env.ok(&["-c"], &xml);
    env.compiles();
    let rule = |p: &str, perms: &str| format!("  \"{p}\" {perms},");
    for p in ["/dev/vfio/devices/vfio0", "/dev/iommu"] {
        env.ok(&["-r", "-F", p], &xml);
        assert!(
            env.files().lines().any(|l| l.starts_with(&rule(p, "rwm"))),
            "{p}: {}",
            env.files()
        );
        assert!(!env.grants(p), "{p} must not be rwk: {}", env.files());
        assert_eq!(env.compiles(), 1, "{p}");
    }
    assert!(env.ledger().is_empty(), "{:?}", env.ledger());
    // Any other -F keeps rwk.
    env.ok(&["-r", "-F", "/dev/vfio/12"], &xml);
    assert!(env.grants("/dev/vfio/12"), "{}", env.files());
    // A plain -r regenerates .files from the XML: the device nodes are gone.
    env.ok(&["-r"], &xml);
    for p in ["/dev/vfio/devices/vfio0", "/dev/iommu", "/dev/vfio/12"] {
        assert!(!env.files().contains(p), "{p}: {}", env.files());
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
        env.ok(&["-r"], &legacy);
        for p in ["/dev/vfio/devices/vfio0", "/dev/iommu"] {
            env.ok(&["-r", "-F", p], &legacy);
            assert!(
                env.files().lines().any(|l| l.starts_with(&rule(p, "rwm"))),
                "{p}: {}",
                env.files()
            );
        }
    }
    // Nothing else in /dev/vfio/devices.
    let o = env.run_with(
        &env.parser.script,
        &["-r", "-F", "/dev/vfio/devices/x"],
        &xml,
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
}
