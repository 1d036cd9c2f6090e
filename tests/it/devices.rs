//! The gaps libvirt 9.0's helper left, each with a domain that uses it, the exact rules it
//! produces, and the profile compiled by the real apparmor_parser; plus sVirt labels and
//! the bridge helper's child profile.

use crate::support::*;

/// A kvm domain (id 4, name `gaps`) with `devices`, created for real (no load) in a fresh
/// policy tree with the given extra options, compiled; returns the rules but the base
/// rules, without comments.
fn create(devices: &str, extra_root: &str, opts: &[&str]) -> (Policy, Vec<String>, String) {
    let xml = format!(
        "<domain type='kvm' id='4'><name>gaps</name><uuid>{UUID}</uuid>\
         <os><type arch='x86_64' machine='q35'>hvm</type></os>{extra_root}<devices>{devices}</devices></domain>"
    );
    let (policy, o) = create_ok(&xml, opts);
    let text = policy.read(&format!("{PROFILE}.files")).unwrap();
    let rules = rules_without_base(&text);
    (policy, rules, o.stderr)
}

#[test]
fn nbd_disk_over_a_unix_socket() {
    let (_, rules, _) = create(
        "<disk type='network' device='disk'><driver name='qemu' type='raw'/>\
         <source protocol='nbd' name='export'><host transport='unix' socket='/run/nbd/vm.sock'/></source>\
         <target dev='vda'/></disk>",
        "",
        &[],
    );
    assert_lines(&rules, &["\"/run/nbd/vm.sock\" rw,"]);
}

#[test]
fn vhost_user_blk_disk_socket() {
    let (_, rules, _) = create(
        "<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/>\
         <source type='unix' path='/run/vhost-blk.sock'><reconnect enabled='yes' timeout='10'/></source>\
         <target dev='vdb'/></disk>",
        "",
        &[],
    );
    assert_lines(&rules, &["\"/run/vhost-blk.sock\" rw,"]);
}

/// A sysfs tree with PCI devices at the given addresses in the given IOMMU groups (links
/// as the kernel makes them: `bus/pci/devices/<a>` to `devices/pci0000:00/<a>`, whose
/// `iommu_group` points to `kernel/iommu_groups/<N>`), and mediated devices below the
/// first one.
fn vfio_sysfs(pci: &[(&str, u32)], mdevs: &[(&str, u32)]) -> Tree {
    let sys = Tree::new();
    let group = |sys: &Tree, dev: &str, n: u32, up: &str| {
        sys.dir(&format!("kernel/iommu_groups/{n}"));
        sys.symlink(
            &format!("{dev}/iommu_group"),
            format!("{up}kernel/iommu_groups/{n}"),
        );
    };
    for (addr, n) in pci {
        let dev = format!("devices/pci0000:00/{addr}");
        sys.file(&format!("{dev}/config"), b"");
        group(&sys, &dev, *n, "../../../");
        sys.symlink(
            &format!("bus/pci/devices/{addr}"),
            format!("../../../{dev}"),
        );
    }
    for (uuid, n) in mdevs {
        let dev = format!("devices/pci0000:00/0000:00:02.0/{uuid}");
        sys.dir(&dev);
        group(&sys, &dev, *n, "../../../../");
        sys.symlink(
            &format!("bus/mdev/devices/{uuid}"),
            format!("../../../{dev}"),
        );
    }
    sys
}

/// The VFIO rules among `rules`.
fn vfio_only(rules: &[String]) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.contains("/dev/vfio/"))
        .cloned()
        .collect()
}

const NVME: &str = "<disk type='nvme' device='disk'><driver name='qemu' type='raw'/>\
    <source type='pci' managed='yes' namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>\
    <target dev='vdc'/></disk>";

#[test]
fn nvme_disk_gets_its_vfio_group() {
    let sys = vfio_sysfs(&[("0000:01:00.0", 12), ("0000:02:00.0", 13)], &[]);
    let (policy, rules, _) = create(NVME, "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,", "\"/dev/vfio/12\" rw,"]);
    // The rule matches that one node and nothing else.
    assert_literal_rule(&policy, &policy.profile(), "/dev/vfio/12".as_ref());
    // Not on this host: the container only, no group at all, and a warning (libvirt 9.0
    // granted nothing; this tool granted every group, /dev/vfio/[0-9]*).
    let (_, rules, err) = create(NVME, "", &["--sysfs", "/nonexistent"]);
    assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,"]);
    assert!(
        err.contains("PCI device 0000:01:00.0 not found on this host; no VFIO group granted"),
        "{err}"
    );
}

#[test]
fn pci_hostdevs_get_exactly_their_vfio_groups() {
    let sys = vfio_sysfs(&[("0000:01:00.0", 12), ("0000:02:00.0", 13)], &[]);
    let pci = |bus: &str| {
        format!("<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='{bus}' slot='0x00' function='0x0'/></source></hostdev>")
    };
    let (policy, rules, err) = create(
        &format!("{}{}{}", pci("0x02"), pci("0x05"), pci("0x01")),
        "",
        &["--sysfs", &sys.s("")],
    );
    // Each device its own group, in document order after the container; the device at
    // 05:00.0 is not on this host: no group for it, and a warning.
    assert_eq!(
        vfio_only(&rules),
        [
            "\"/dev/vfio/vfio\" rw,",
            "\"/dev/vfio/13\" rw,",
            "\"/dev/vfio/12\" rw,"
        ]
    );
    assert!(!rules.iter().any(|r| r.contains("[0-9]")), "{rules:?}");
    assert!(
        err.contains("hostdev pci 0000:05:00.0: PCI device 0000:05:00.0 not found on this host; no VFIO group granted"),
        "{err}"
    );
    assert_literal_rule(&policy, &policy.profile(), "/dev/vfio/13".as_ref());
    // The legacy backend is not VFIO: no VFIO rule at all.
    let (_, rules, _) = create(
        &pci("0x01").replace("managed='yes'>", "managed='yes'><driver name='kvm'/>"),
        "",
        &["--sysfs", &sys.s("")],
    );
    assert!(vfio_only(&rules).is_empty(), "{rules:?}");
}

/// A VFIO PCI hostdev at bus `bus` with `driver` (`<driver .../>` or nothing).
fn pci_hostdev(bus: &str, driver: &str) -> String {
    format!("<hostdev mode='subsystem' type='pci' managed='yes'>{driver}<source><address domain='0x0000' bus='{bus}' slot='0x00' function='0x0'/></source></hostdev>")
}

/// libvirt 12.1: a PCI hostdev with `<driver iommufd='yes'>` reaches its device through
/// the VFIO cdev and `/dev/iommu`, which libvirtd opens and grants with `-F`; libvirt's
/// helper writes neither the container nor the group for it (`needsVfio` stays false).
/// A legacy one beside it keeps its group and the container.
#[test]
fn iommufd_hostdevs_get_no_vfio_group() {
    let sys = vfio_sysfs(&[("0000:01:00.0", 12), ("0000:02:00.0", 13)], &[]);
    let iommufd = pci_hostdev("0x01", "<driver name='vfio' iommufd='yes'/>");
    let (_, rules, _) = create(&iommufd, "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &[]);
    let legacy = pci_hostdev("0x02", "<driver name='vfio' iommufd='no'/>");
    let (policy, rules, _) = create(&format!("{iommufd}{legacy}"), "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,", "\"/dev/vfio/13\" rw,"]);
    assert_literal_rule(&policy, &policy.profile(), "/dev/vfio/13".as_ref());
    // An SR-IOV interface is a PCI hostdev too.
    let vf = "<interface type='hostdev' managed='yes'><driver name='vfio' iommufd='yes'/>\
        <source><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></interface>";
    let (_, rules, _) = create(vf, "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &[]);
    // libvirt's parser refuses anything but yes and no.
    let err = create_refused(
        &domain(&pci_hostdev("0x01", "<driver iommufd='on'/>"), ""),
        &[],
        1,
    );
    assert!(
        err.contains("iommufd='on' is neither 'yes' nor 'no'"),
        "{err}"
    );
}

/// libvirt 12.2: `<iommufd enabled='yes'>` under `<domain>` makes every VFIO PCI hostdev
/// use IOMMUFD unless its `<driver iommufd='no'>` says otherwise; `enabled='no'` leaves
/// them on their groups. The legacy backend and mediated devices keep what they had.
#[test]
fn iommufd_is_each_devices_own_choice_as_in_libvirt_12_8() {
    let uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
    let sys = vfio_sysfs(&[("0000:01:00.0", 12), ("0000:02:00.0", 13)], &[(uuid, 21)]);
    let devices = format!(
        "{}{}<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='{uuid}'/></source></hostdev>",
        pci_hostdev("0x01", ""),
        pci_hostdev("0x02", "<driver name='vfio' iommufd='no'/>"),
    );
    let (policy, rules, _) = create(
        &devices,
        "<iommufd enabled='yes'/>",
        &["--sysfs", &sys.s("")],
    );
    // The switch alone changes no rule: libvirt 12.8's helper grants the groups of the
    // devices that do not say iommufd='yes' themselves (a rule too many, never one too few).
    let all_groups = [
        "\"/dev/vfio/vfio\" rw,",
        "\"/dev/vfio/12\" rw,",
        "\"/dev/vfio/13\" rw,",
        "\"/dev/vfio/21\" rw,",
    ];
    assert_lines(&rules, &all_groups);
    assert_literal_rule(&policy, &policy.profile(), "/dev/vfio/13".as_ref());
    let (_, rules, _) = create(
        &devices,
        "<iommufd enabled='no'/>",
        &["--sysfs", &sys.s("")],
    );
    assert_lines(&rules, &all_groups);
    // A device that says iommufd='yes' gets no group, whatever the switch.
    for switch in [
        "<iommufd enabled='yes' fdgroup='mgmt'/>",
        "<iommufd enabled='no'/>",
        "",
    ] {
        let (_, rules, _) = create(
            &pci_hostdev("0x01", "<driver name='vfio' iommufd='yes'/>"),
            switch,
            &["--sysfs", &sys.s("")],
        );
        assert_lines(&rules, &[]);
    }
}

#[test]
fn mdev_hostdev_gets_its_vfio_group() {
    let uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
    let sys = vfio_sysfs(&[], &[(uuid, 21)]);
    let mdev = |u: &str| {
        format!("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='{u}'/></source></hostdev>")
    };
    let (policy, rules, _) = create(&mdev(uuid), "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,", "\"/dev/vfio/21\" rw,"]);
    assert_literal_rule(&policy, &policy.profile(), "/dev/vfio/21".as_ref());
    // Another uuid, or one that is not a uuid (a path to walk out of sysfs): no group.
    for other in ["00000000-1111-2222-3333-444444444444", "../../../devices"] {
        let (_, rules, err) = create(&mdev(other), "", &["--sysfs", &sys.s("")]);
        assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,"]);
        assert!(err.contains("no VFIO group granted"), "{err}");
    }
}

/// The first PCI device of this host's sysfs (the CI machine has one, as every PC).
fn host_pci_config() -> String {
    let mut devs: Vec<_> = std::fs::read_dir("/sys/bus/pci/devices")
        .expect("/sys/bus/pci/devices")
        .flatten()
        .map(|e| e.path())
        .collect();
    devs.sort();
    let dev = devs.first().expect("a PCI device on this host");
    let canon = std::fs::canonicalize(dev.join("config")).expect("canonical config");
    canon.display().to_string()
}

#[test]
fn sysfs_pci_files_for_host_devices_only() {
    let config = host_pci_config();
    assert!(config.starts_with("/sys/devices/pci"), "{config}");
    // A host device: its sysfs files are granted (the real /sys, the default).
    let dir = config.trim_end_matches("/config");
    // dddd:bb:ss.f
    let addr: Vec<&str> = dir
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split([':', '.'])
        .collect();
    let [_, bus, slot, function] = addr[..] else {
        panic!("not a PCI address: {dir}");
    };
    let hostdev = format!(
        "<hostdev mode='subsystem' type='pci'><driver name='kvm'/><source><address bus='0x{bus}' slot='0x{slot}' function='0x{function}'/></source></hostdev>"
    );
    let (_, rules, _) = create(&hostdev, "", &[]);
    assert!(rules.contains(&format!("\"{config}\" rw,")), "{rules:?}");
    // The same file as a disk, a chardev, a share or a -f/-F argument: refused.
    let refused = |devices: &str, extra: &[&str]| {
        let xml = domain(devices, "");
        let err = create_refused(&xml, extra, 3);
        assert!(
            err.contains("/sys is never allowed (restricted location)"),
            "{err}"
        );
    };
    refused(&disk(&config, "vda", ""), &[]);
    refused(
        &format!("<serial type='dev'><source path='{config}'/></serial>"),
        &[],
    );
    refused(
        &format!("<filesystem type='mount'><source dir='{dir}'/><target dir='d'/></filesystem>"),
        &[],
    );
    refused("", &["-f", &config]);
    refused("", &["-F", &format!("{dir}/{{,**}}")]);
}

#[test]
fn volume_disk_in_a_directory_pool() {
    let t = Tree::new();
    t.qcow2("pool/base.qcow2", None);
    t.qcow2("pool/vm.qcow2", Some(("base.qcow2", "qcow2")));
    t.file(
        "storage/default.xml",
        format!(
            "<pool type='dir'><name>default</name><target><path>{}</path></target></pool>",
            t.s("pool")
        )
        .as_bytes(),
    );
    let disk = "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
        <source pool='default' volume='vm.qcow2'/><target dev='vdd'/></disk>";
    let (_, rules, _) = create(disk, "", &["--pool-dir", &t.s("storage")]);
    let base = t.s("pool/base.qcow2");
    assert_lines(
        &rules,
        &[
            &format!("\"{}\" rwk,", t.s("pool/vm.qcow2")),
            &format!("\"{base}\" rk,"),
        ],
    );
    // An unknown pool: no rule, a warning naming it.
    let (_, rules, err) = create(
        &disk.replace("'default'", "'other'"),
        "",
        &["--pool-dir", &t.s("storage")],
    );
    assert!(rules.is_empty(), "{rules:?}");
    assert!(err.contains("pool 'other' not found"), "{err}");
}

/// libvirtd >= 9.x hands the helper the volume as the pool translated it
/// (VIR_DOMAIN_DEF_FORMAT_VOLUME_TRANSLATED, libvirt 11.3 `load_profile`): the path in the
/// XML is the disk, with its chain, and no pool definition is read (none exists here).
#[test]
fn translated_volume_disks_use_the_translated_path() {
    let t = Tree::new();
    t.qcow2("pool/base.qcow2", None);
    t.qcow2("pool/vm.qcow2", Some(("base.qcow2", "qcow2")));
    let lv = t.file("dev/vg0/lv1", b"a block volume");
    let disks = format!(
        "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
         <source pool='images' volume='vm.qcow2' actualType='file' file='{}'/><target dev='vdd'/></disk>\
         <disk type='volume' device='disk'><driver name='qemu' type='raw'/>\
         <source pool='vg0' volume='lv1' actualType='block' dev='{}'/><readonly/><target dev='vde'/></disk>",
        t.s("pool/vm.qcow2"),
        lv.display()
    );
    let (_, rules, err) = create(&disks, "", &["--pool-dir", &t.s("no-storage")]);
    assert_lines(
        &rules,
        &[
            &format!("\"{}\" rwk,", t.s("pool/vm.qcow2")),
            &format!("\"{}\" rk,", t.s("pool/base.qcow2")),
            &format!("\"{}\" rk,", lv.display()),
        ],
    );
    assert!(!err.contains("not found"), "{err}");
    // The translated path is checked like any disk's.
    let xml = format!(
        "<domain type='kvm'><name>v</name><uuid>{UUID}</uuid><os><type>hvm</type></os><devices>\
         <disk type='volume'><source pool='p' volume='v' actualType='file' file='/etc/shadow'/><target dev='vda'/></disk></devices></domain>"
    );
    let err = create_refused(&xml, &[], 3);
    assert!(err.contains("/etc is never allowed"), "{err}");
}

#[test]
fn volume_names_cannot_leave_the_pool() {
    let xml = format!(
        "<domain type='kvm'><name>v</name><uuid>{UUID}</uuid><os><type>hvm</type></os><devices>\
         <disk type='volume'><source pool='default' volume='../../etc/shadow'/><target dev='vda'/></disk></devices></domain>"
    );
    let err = create_refused(&xml, &[], 1);
    assert!(err.contains("is not a plain name"), "{err}");
}

/// libvirt 11.2's `<os><shim>` and ACPI tables of every type, several of them: each `r`,
/// as libvirt 11.3's helper grants them (9.0 knew one `slic` table).
#[test]
fn shim_and_acpi_tables() {
    let xml = format!(
        "<domain type='kvm' id='4'><name>gaps</name><uuid>{UUID}</uuid>\
         <os><type arch='x86_64' machine='q35'>hvm</type><kernel>/boot/vmlinuz</kernel>\
         <shim>/boot/efi/shimx64.efi</shim>\
         <acpi><table type='raw'>/srv/acpi/ssdt1.dat</table><table type='raw'>/srv/acpi/ssdt2.dat</table>\
         <table type='rawset'>/srv/acpi/set</table><table type='slic'>/srv/acpi/slic.dat</table>\
         <table type='msdm'>/srv/acpi/msdm.dat</table></acpi></os><devices/></domain>"
    );
    let (policy, _) = create_ok(&xml, &[]);
    let rules = rules_without_base(&policy.read(&format!("{PROFILE}.files")).unwrap());
    assert_lines(
        &rules,
        &[
            "\"/boot/vmlinuz\" r,",
            "deny \"/boot/vmlinuz\" w,",
            "\"/boot/efi/shimx64.efi\" r,",
            "deny \"/boot/efi/shimx64.efi\" w,",
            "\"/srv/acpi/ssdt1.dat\" r,",
            "deny \"/srv/acpi/ssdt1.dat\" w,",
            "\"/srv/acpi/ssdt2.dat\" r,",
            "deny \"/srv/acpi/ssdt2.dat\" w,",
            "\"/srv/acpi/set\" r,",
            "deny \"/srv/acpi/set\" w,",
            "\"/srv/acpi/slic.dat\" r,",
            "deny \"/srv/acpi/slic.dat\" w,",
            "\"/srv/acpi/msdm.dat\" r,",
            "deny \"/srv/acpi/msdm.dat\" w,",
        ],
    );
    // A type libvirt does not know is still refused.
    let err = create_refused(&xml.replace("'msdm'", "'xsdt'"), &[], 1);
    assert!(err.contains("unknown ACPI table type 'xsdt'"), "{err}");
}

#[test]
fn chardev_log_files() {
    let (_, rules, _) = create(
        "<serial type='pty'><log file='/var/log/vm/gaps-serial0.log' append='off'/><target port='0'/></serial>",
        "",
        &[],
    );
    assert_lines(&rules, &["\"/var/log/vm/gaps-serial0.log\" w,"]);
}

#[test]
fn virtio_pmem_pstore_audio_rng_redirdev() {
    let (_, rules, _) = create(
        "<memory model='virtio-pmem' access='shared'><source><path>/srv/pmem.img</path></source><target><size unit='KiB'>524288</size></target></memory>\
         <pstore backend='acpi-erst'><path>/srv/nvram/gaps-pstore.raw</path><size unit='KiB'>8</size></pstore>\
         <audio id='1' type='file' path='/srv/audio/gaps.wav'/>\
         <rng model='virtio'><backend model='egd' type='unix'><source mode='connect' path='/run/rng.sock'/></backend></rng>\
         <rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>\
         <redirdev bus='usb' type='unix'><source mode='connect' path='/run/redir.sock'/></redirdev>",
        "",
        &[],
    );
    assert_lines(
        &rules,
        &[
            "\"/srv/pmem.img\" rw,",
            "\"/srv/nvram/gaps-pstore.raw\" rw,",
            "\"/srv/audio/gaps.wav\" w,",
            "\"/run/rng.sock\" rw,",
            "\"/dev/hwrng\" r,",
            "deny \"/dev/hwrng\" w,",
            "\"/run/redir.sock\" rw,",
        ],
    );
}

#[test]
fn sev_and_sgx() {
    let (_, rules, _) = create(
        "<memory model='sgx-epc'><target><size unit='KiB'>16384</size></target></memory>",
        "<launchSecurity type='sev'><policy>0x0003</policy></launchSecurity>",
        &[],
    );
    assert_lines(
        &rules,
        &[
            "\"/dev/sev\" rw,",
            "\"/dev/sgx_vepc\" rw,",
            "\"/dev/sgx_provision\" r,",
            "deny \"/dev/sgx_provision\" w,",
        ],
    );
}

/// `<vsock>` (a device libvirt 9.0's helper has no rule for): libvirtd opens
/// `/dev/vhost-vsock` for every QEMU domain with one and hands QEMU the descriptor
/// (`qemuProcessOpenVhostVsock`), so the profile must allow it. Added in two files, `parse/net.rs` and `rules/net.rs` ("Adding a device" in the
/// crate docs).
#[test]
fn vsock_gets_vhost_vsock() {
    let (policy, rules, _) = create("<vsock model='virtio'><cid auto='yes'/></vsock>", "", &[]);
    assert_lines(&rules, &["\"/dev/vhost-vsock\" rw,"]);
    let text = policy.read(&format!("{PROFILE}.files")).unwrap();
    assert!(
        text.contains("  \"/dev/vhost-vsock\" rw,  # vsock vhost-vsock\n"),
        "{text}"
    );
    let exprs = compiled_exprs(&policy, &policy.profile());
    assert!(
        exprs.iter().any(|(a, _)| a == "/dev/vhost-vsock"),
        "{exprs:?}"
    );

    // No <vsock>, no device.
    let (_, rules, _) = create("", "", &[]);
    assert!(
        !rules.iter().any(|r| r.contains("vhost-vsock")),
        "{rules:?}"
    );
}

#[test]
fn passt_socket() {
    let (_, rules, _) = create(
        "<interface type='user'><backend type='passt'/><model type='virtio'/></interface>",
        "",
        &[],
    );
    // No /dev/vhost-net: libvirtd opens it only with a tap (network, bridge, direct,
    // ethernet); libvirt 9.0's helper granted it to this user-mode interface too.
    assert_lines(&rules, &["\"/run/libvirt/qemu/passt/4-gaps-*.socket\" rw,"]);
}

/// `/dev/vhost-net` for exactly the interfaces libvirtd opens it for
/// (`qemuInterfaceOpenVhostNet`, called for tap-backed types only).
#[test]
fn vhost_net_only_for_interfaces_that_use_it() {
    let vhost = "\"/dev/vhost-net\" rw,".to_string();
    for (iface, want) in [
        ("<interface type='network'><source network='default'/><model type='virtio'/></interface>", true),
        ("<interface type='direct'><source dev='eth0' mode='vepa'/><model type='virtio'/></interface>", true),
        ("<interface type='ethernet'><target dev='tap0' managed='no'/><model type='virtio'/></interface>", true),
        ("<interface type='network'><source network='default'/></interface>", true),
        ("<interface type='network'><source network='default'/><model type='virtio'/><driver name='qemu'/></interface>", false),
        ("<interface type='network'><source network='default'/><model type='e1000e'/></interface>", false),
        ("<interface type='user'><model type='virtio'/></interface>", false),
        ("<interface type='vhostuser'><source type='unix' path='/run/vu.sock' mode='client'/><model type='virtio'/></interface>", false),
        ("<interface type='mcast'><source address='230.0.0.1' port='5558'/><model type='virtio'/></interface>", false),
        ("<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></interface>", false),
    ] {
        let (_, rules, _) = create(iface, "", &["--sysfs", "/nonexistent"]);
        assert_eq!(rules.contains(&vhost), want, "{iface}: {rules:?}");
    }
}

#[test]
fn bridge_helper_only_for_bridge_interfaces() {
    let (policy, rules, _) = create(
        "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>",
        "",
        &[],
    );
    let text = policy.read(&format!("{PROFILE}.files")).unwrap();
    assert!(
        text.contains("  \"/usr/lib/qemu/qemu-bridge-helper\" Cx -> qemu_bridge_helper,  # interface 0 bridge\n"),
        "{text}"
    );
    assert!(text.contains("  profile qemu_bridge_helper {\n"));
    assert!(rules.contains(&"\"/dev/net/tun\" rw,".to_string()));
    // The child profile is really there once compiled.
    let exprs = compiled_exprs(&policy, &policy.profile());
    assert!(exprs.iter().any(|(a, _)| a == "/dev/net/tun"), "{exprs:?}");

    // A guest on a NAT network never gets it.
    let (policy, _, _) = create(
        "<interface type='network'><source network='default'/><model type='virtio'/></interface>",
        "",
        &[],
    );
    let text = policy.read(&format!("{PROFILE}.files")).unwrap();
    assert!(
        !text.contains("bridge-helper") && !text.contains("qemu_bridge_helper"),
        "{text}"
    );

    // The helper's path is configurable (and escaped).
    let (policy, _, _) = create(
        "<interface type='bridge'><source bridge='br0'/></interface>",
        "",
        &["--bridge-helper", "/usr/libexec/qemu bridge*helper"],
    );
    let text = policy.read(&format!("{PROFILE}.files")).unwrap();
    assert!(
        text.contains("\"/usr/libexec/qemu bridge\\*helper\" Cx -> qemu_bridge_helper,"),
        "{text}"
    );
}

/// A profile may define a child profile only once: with a child profile (and `Cx` rule)
/// per bridge interface, apparmor_parser refused the profile and the VM could not start.
/// A bridge helper path that cannot be written in a rule is refused where the setting is
/// read, for every domain (exit 2, a usage error), not by the rules of the first domain
/// with a bridge.
#[test]
fn unwritable_bridge_helper_is_a_usage_error() {
    let xml = format!(
        "<domain type='kvm'><name>v</name><uuid>{UUID}</uuid><os><type>hvm</type></os></domain>"
    );
    let err = create_refused(
        &xml,
        &["--bridge-helper", "/usr/lib/qemu/bridge\thelper"],
        2,
    );
    assert!(
        err.contains("error: --bridge-helper '/usr/lib/qemu/bridge\\thelper': contains the control character U+0009"),
        "{err}"
    );
}

#[test]
fn bridge_helper_child_profile_once_for_several_bridge_interfaces() {
    let bridge = |n: usize| {
        format!(
            "<interface type='bridge'><source bridge='br{n}'/><model type='virtio'/></interface>"
        )
    };
    for count in [2, 3] {
        let devices: String = (0..count).map(bridge).collect();
        let xml = format!(
            "<domain type='kvm' id='4'><name>gaps</name><uuid>{UUID}</uuid>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>{devices}</devices></domain>"
        );
        // Compiled by the real parser, which refuses a child profile defined twice.
        let o = dry_create(&xml, &[]);
        let (_, files) = o
            .dry_files()
            .into_iter()
            .find(|(p, _)| p.to_string_lossy().ends_with(".files"))
            .expect("a .files");
        let defs = files
            .lines()
            .filter(|l| l.trim() == "profile qemu_bridge_helper {")
            .count();
        assert_eq!(defs, 1, "{count} bridges:\n{files}");
        let execs: Vec<&str> = files
            .lines()
            .filter(|l| l.contains("Cx -> qemu_bridge_helper"))
            .collect();
        // The first bridge interface names it, as with a single one.
        assert_eq!(
            execs,
            ["  \"/usr/lib/qemu/qemu-bridge-helper\" Cx -> qemu_bridge_helper,  # interface 0 bridge"],
            "{count} bridges:\n{files}"
        );
        let peers = files
            .lines()
            .filter(|l| l.contains("peer=(label=libvirt-") && l.contains("//qemu_bridge_helper)"))
            .count();
        assert_eq!(peers, 1, "{count} bridges:\n{files}");
    }
}

#[test]
fn svirt_relabel_no_disk_gets_no_rule() {
    let t = Tree::new();
    t.file("admin.img", b"");
    t.file("ours.img", b"");
    let (_, rules, err) = create(
        &format!(
            "<disk type='file'><source file='{}'><seclabel model='apparmor' relabel='no'/></source><target dev='vda'/></disk>\
             <disk type='file'><source file='{}'><seclabel model='selinux' relabel='no'/></source><target dev='vdb'/></disk>",
            t.s("admin.img"),
            t.s("ours.img")
        ),
        "",
        &[],
    );
    assert_lines(&rules, &[&format!("\"{}\" rwk,", t.s("ours.img"))]);
    assert!(
        err.contains("disk vda: <seclabel model='apparmor' relabel='no'/>"),
        "{err}"
    );
}

#[test]
fn static_apparmor_seclabel_is_refused() {
    let label =
        "<seclabel type='static' model='apparmor' relabel='no'><label>custom</label></seclabel>";
    let xml = format!(
        "<domain type='kvm'><name>v</name><uuid>{UUID}</uuid><os><type>hvm</type></os>{label}<devices/></domain>"
    );
    let err = create_refused(&xml, &[], 1);
    assert!(err.contains("statically labelled"), "{err}");
    // A dynamic AppArmor label, type='none' (libvirtd never asks then; libvirt's helper
    // generates as usual) or a static SELinux label are fine.
    let (_, rules, _) = create("", "<seclabel type='none' model='apparmor'/>", &[]);
    assert!(rules.is_empty());
    let (_, rules, _) = create(
        "",
        "<seclabel type='static' model='selinux'><label>x</label></seclabel>",
        &[],
    );
    assert!(rules.is_empty());
}

#[test]
fn usb_hostdev_lookup_is_unambiguous_and_reads_numbers_like_libvirt() {
    let sys = Tree::new();
    for (dir, bus, dev) in [("2-4", "2", "4"), ("8-1", "8", "1"), ("3-1", "3", "1")] {
        sys.file(&format!("bus/usb/devices/{dir}/idVendor"), b"1234\n");
        sys.file(&format!("bus/usb/devices/{dir}/idProduct"), b"beef\n");
        sys.file(
            &format!("bus/usb/devices/{dir}/busnum"),
            format!("{bus}\n").as_bytes(),
        );
        sys.file(
            &format!("bus/usb/devices/{dir}/devnum"),
            format!("{dev}\n").as_bytes(),
        );
    }
    let by_id = "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>";
    // Three devices match: libvirt refuses to guess, so no rule.
    let (_, rules, err) = create(by_id, "", &["--sysfs", &sys.s("")]);
    assert!(rules.is_empty(), "{rules:?}");
    assert!(
        err.contains("3 USB devices match vendor 1234 product beef"),
        "{err}"
    );
    // An address chooses one; '010' is octal (bus 8) as libvirt's strtoul(..., 0) reads it.
    let by_addr =
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/>\
        <address bus='010' device='1'/></source></hostdev>";
    let (_, rules, _) = create(by_addr, "", &["--sysfs", &sys.s("")]);
    assert_lines(&rules, &["\"/dev/bus/usb/008/001\" rw,"]);
}

#[test]
fn hostile_strings_from_every_kind_of_element_compile_to_literals() {
    // libvirt 9.0 pasted the smartcard database into the rule unchecked: a rule injection
    // (docs/weak-spots.md#w3). Here it, a shmem name and a socket path are escaped like disk paths.
    let (policy, rules, _) = create(
        "<smartcard mode='host-certificates'><database>/srv/nss\" rwkl, /** rwkl, #x</database></smartcard>\
         <shmem name='s*{a,b}@{HOME}'><model type='ivshmem-plain'/></shmem>\
         <redirdev bus='usb' type='unix'><source mode='connect' path='/run/r[1]^.sock'/></redirdev>",
        "",
        &[],
    );
    let exprs = compiled_exprs(&policy, &policy.profile());
    for want in ["/dev/shm/s*{a,b}@{HOME}", "/run/r[1]^.sock"] {
        assert!(
            exprs
                .iter()
                .any(|(_, re)| literal_of(re).as_deref() == Some(want)),
            "{want}: {rules:?}"
        );
    }
    // The database rule is the directory and its files, nothing more: no "/**" anywhere.
    assert!(!exprs.iter().any(|(a, _)| a == "/**"), "{exprs:?}");
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("\"/srv/nss\\\" rwkl\\, /\\*\\* rwkl\\, \\043x/{,*}\" rk,")),
        "{rules:?}"
    );
}

/// A `<disk type='block'>` on `dev`, with `device` (`disk`, `lun`).
fn block_disk(dev: &str, device: &str) -> String {
    format!(
        "<disk type='block' device='{device}'><driver name='qemu' type='raw'/><source dev='{dev}'/><target dev='sdb' bus='scsi'/></disk>"
    )
}

/// A device node that belongs to one element family (an IOMMU group,
/// an input device, SEV, SGX, a TPM, a USB device, a render node, SCSI generic, a tap, a
/// serial port) is refused through every other element and argument, with one line naming
/// the element and the path, exit 3, nothing written. Paths need not exist: the check is
/// on the path (missing tails are folded as text).
#[test]
fn device_nodes_only_through_their_element() {
    let refused = |devices: &str, extra: &[&str], path: &str, tree: &str| {
        let err = create_refused(&domain(devices, ""), extra, 3);
        assert!(
            err.contains(&format!("'{path}'")) && err.contains(&format!("{tree} is a device only")),
            "{path}: {err}"
        );
        err
    };
    // The review's cases: a block disk on an IOMMU group, an input device, SEV, SGX.
    let err = refused(
        &block_disk("/dev/vfio/7", "disk"),
        &[],
        "/dev/vfio/7",
        "/dev/vfio",
    );
    assert!(err.contains("(from disk sdb)"), "{err}");
    for (p, tree) in [
        ("/dev/input/event3", "/dev/input"),
        ("/dev/sev", "/dev/sev"),
        ("/dev/sgx_provision", "/dev/sgx*"),
        ("/dev/sgx_vepc", "/dev/sgx*"),
        ("/dev/tpm0", "/dev/tpm#"),
        ("/dev/bus/usb/001/002", "/dev/bus/usb"),
        ("/dev/dri/renderD128", "/dev/dri"),
        ("/dev/sg0", "/dev/sg#"),
        ("/dev/net/tun", "/dev/net/tun"),
        ("/dev/vhost-vsock", "/dev/vhost-vsock"),
        ("/dev/vfio/vfio", "/dev/vfio/vfio"),
        ("/dev/kvm", "/dev/kvm"),
    ] {
        refused(&block_disk(p, "disk"), &[], p, tree);
        refused(&disk(p, "vda", ""), &[], p, tree);
    }
    // Every other way in: a backing layer, a data store, a chardev (through a symlink:
    // the canonical path counts), a pipe, a share, boot files, shmem, NVDIMM, rng, audio,
    // pstore, redirdev, vhost-user, fw_cfg, a render node that is not one, -f and -F.
    let t = Tree::new();
    let link = t.symlink("group", "/dev/vfio/7");
    let link = link.to_str().expect("utf-8");
    let cases: Vec<(String, Vec<&str>, &str, &str)> = vec![
        (
            format!("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><backingStore type='block'><format type='raw'/><source dev='/dev/vfio/7'/><backingStore/></backingStore><target dev='vdc'/></disk>", t.s("top.qcow2")),
            vec![], "/dev/vfio/7", "/dev/vfio",
        ),
        (
            format!("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'><dataStore type='block'><format type='raw'/><source dev='/dev/input/event0'/></dataStore></source><target dev='vdc'/></disk>", t.s("top.qcow2")),
            vec![], "/dev/input/event0", "/dev/input",
        ),
        (format!("<serial type='dev'><source path='{link}'/></serial>"), vec![], "/dev/vfio/7", "/dev/vfio"),
        ("<channel type='pipe'><source path='/dev/input/event1'/><target type='virtio' name='x'/></channel>".into(), vec![], "/dev/input/event1.in", "/dev/input"),
        ("<console type='dev'><source path='/dev/tpm0'/></console>".into(), vec![], "/dev/tpm0", "/dev/tpm#"),
        ("<filesystem type='mount'><source dir='/dev/vfio'/><target dir='v'/></filesystem>".into(), vec![], "/dev/vfio", "/dev/vfio"),
        ("<shmem name='x'><model type='ivshmem-doorbell'/><server path='/dev/sev'/></shmem>".into(), vec![], "/dev/sev", "/dev/sev"),
        ("<memory model='nvdimm'><source><path>/dev/sgx_provision</path></source><target><size unit='KiB'>524288</size></target></memory>".into(), vec![], "/dev/sgx_provision", "/dev/sgx*"),
        ("<rng model='virtio'><backend model='random'>/dev/input/event2</backend></rng>".into(), vec![], "/dev/input/event2", "/dev/input"),
        ("<audio id='1' type='file' path='/dev/dri/card0'/>".into(), vec![], "/dev/dri/card0", "/dev/dri"),
        ("<redirdev bus='usb' type='unix'><source mode='connect' path='/dev/vfio/3'/></redirdev>".into(), vec![], "/dev/vfio/3", "/dev/vfio"),
        ("<memory model='virtio-pmem' access='shared'><source><path>/dev/vfio/4</path></source><target><size unit='KiB'>524288</size></target></memory>".into(), vec![], "/dev/vfio/4", "/dev/vfio"),
        ("<interface type='vhostuser'><source type='unix' path='/dev/tpmrm0' mode='client'/><model type='virtio'/></interface>".into(), vec![], "/dev/tpmrm0", "/dev/tpmrm#"),
        ("<graphics type='spice'><gl enable='yes' rendernode='/dev/input/event5'/></graphics>".into(), vec![], "/dev/input/event5", "/dev/input"),
        ("<input type='evdev'><source dev='/dev/vfio/5'/></input>".into(), vec![], "/dev/vfio/5", "/dev/vfio"),
        ("<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/input/event6'/></backend></tpm>".into(), vec![], "/dev/input/event6", "/dev/input"),
        (String::new(), vec!["-f", "/dev/sev"], "/dev/sev", "/dev/sev"),
        (String::new(), vec!["-F", "/dev/vfio/vfio"], "/dev/vfio/vfio", "/dev/vfio/vfio"),
        (String::new(), vec!["-F", "/dev/tpm0"], "/dev/tpm0", "/dev/tpm#"),
        (String::new(), vec!["-F", "/dev/dri/renderD128"], "/dev/dri/renderD128", "/dev/dri"),
        (String::new(), vec!["-F", "/dev/input/{,**}"], "/dev/input", "/dev/input"),
    ];
    for (devices, extra, path, tree) in &cases {
        refused(devices, extra, path, tree);
    }
    // The kernel, the loader, the nvram and fw_cfg files too.
    for os in [
        "<kernel>/dev/sev</kernel>",
        "<loader readonly='yes' type='pflash'>/dev/vfio/9</loader>",
        "<nvram>/dev/input/event7</nvram>",
    ] {
        let err = create_refused(&domain("", &format!("    {os}\n")), &[], 3);
        assert!(err.contains("is a device only"), "{os}: {err}");
    }
}

/// The same nodes through their own element keep working (libvirt's test corpus names
/// them so), and libvirtd's -F at a hotplug keeps the nodes it names before the element
/// is in the XML (AppArmorSetSecurityHostdevLabel, AppArmorSetInputLabel).
#[test]
fn device_nodes_through_their_own_element() {
    let ok = |devices: &str, extra: &[&str], want: &str| {
        let (_, rules, _) = create(devices, "", extra);
        assert!(rules.iter().any(|r| r == want), "{want}: {rules:?}");
    };
    ok(
        "<input type='evdev'><source dev='/dev/input/event1234' grab='all'/></input>",
        &[],
        "\"/dev/input/event1234\" rw,",
    );
    ok(
        "<input type='passthrough' bus='virtio'><source evdev='/dev/input/event1234'/></input>",
        &[],
        "\"/dev/input/event1234\" rw,",
    );
    ok(&block_disk("/dev/sg3", "lun"), &[], "\"/dev/sg3\" rwk,");
    ok(
        "<serial type='dev'><source path='/dev/ttyS2'/></serial>",
        &[],
        "\"/dev/ttyS2\" rw,",
    );
    ok(
        "<parallel type='dev'><source path='/dev/parport0'/></parallel>",
        &[],
        "\"/dev/parport0\" rw,",
    );
    ok(
        "<graphics type='spice'><gl enable='yes' rendernode='/dev/dri/test'/></graphics>",
        &[],
        "\"/dev/dri/test\" rw,",
    );
    ok(
        "<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>",
        &[],
        "\"/dev/hwrng\" r,",
    );
    // A host block device stays a disk's.
    ok(
        &block_disk("/dev/HostVG/QEMUGuest1", "disk"),
        &[],
        "\"/dev/HostVG/QEMUGuest1\" rwk,",
    );
    for p in [
        "/dev/vfio/7",
        "/dev/bus/usb/001/002",
        "/dev/input/event3",
        "/dev/sg2",
        "/dev/ttyUSB0",
        "/dev/vhost-scsi",
    ] {
        let o = dry_create(&domain("", ""), &["-F", p]);
        let rules = o.dry_rules();
        assert!(rules.contains(&format!("\"{p}\" rwk,")), "{p}: {rules:?}");
    }
}

/// The TPM cancel file only when the device path opens that TPM's
/// character device. A regular file named `tpm0` (libvirt builds the cancel path from
/// the name alone) and a character device with another number get none. Needs root for
/// mknod, as CI runs.
#[test]
fn tpm_cancel_only_for_the_tpm_character_device() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let sys = Tree::new();
    sys.file("devices/pnp0/00:05/cancel", b"");
    sys.file("devices/pnp0/00:05/tpm/tpm0/dev", b"10:224\n");
    sys.symlink("devices/pnp0/00:05/tpm/tpm0/device", "../../../00:05");
    sys.symlink("class/tpm/tpm0", "../../devices/pnp0/00:05/tpm/tpm0");
    let cancel = format!("\"{}\" rw,", sys.s("devices/pnp0/00:05/cancel"));
    let t = Tree::new();
    let mknod = |rel: &str, major: &str, minor: &str| {
        let p = t.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let st = std::process::Command::new("mknod")
            .args([p.to_str().expect("utf-8"), "c", major, minor])
            .status()
            .expect("mknod");
        assert!(st.success());
        p
    };
    let tpm = |path: &str| {
        format!("<tpm model='tpm-tis'><backend type='passthrough'><device path='{path}'/></backend></tpm>")
    };
    let sysfs = sys.s("");
    // The TPM's own character device (10:224, the number sysfs lists): the cancel file.
    let dev = mknod("a/tpm0", "10", "224");
    let (_, rules, _) = create(&tpm(dev.to_str().expect("utf-8")), "", &["--sysfs", &sysfs]);
    assert_lines(&rules, &[&format!("\"{}\" rw,", dev.display()), &cancel]);
    // A link named tpm0 to it: the node is the TPM, libvirt finds it by the name.
    let link = t.symlink("b/tpm0", &dev);
    let (_, rules, _) = create(
        &tpm(link.to_str().expect("utf-8")),
        "",
        &["--sysfs", &sysfs],
    );
    assert!(rules.contains(&cancel), "{rules:?}");
    // A regular file named tpm0, and a character device tpm0 with another number.
    let file = t.file("c/tpm0", b"");
    let other = mknod("d/tpm0", "1", "3");
    for p in [file, other] {
        let (_, rules, err) = create(&tpm(p.to_str().expect("utf-8")), "", &["--sysfs", &sysfs]);
        assert_lines(&rules, &[&format!("\"{}\" rw,", p.display())]);
        assert!(
            err.contains(
                "is not a TPM character device with a cancel file in sysfs; no cancel rule"
            ),
            "{err}"
        );
    }
}

/// A VFIO host device gets its group and the container, never the
/// legacy KVM assignment files (`config`, `resource*`, `rom`, `reset`): QEMU's vfio-pci
/// reaches them through the device descriptor.
#[test]
fn vfio_hostdev_gets_no_sysfs_files() {
    let sys = vfio_sysfs(&[("0000:01:00.0", 12)], &[]);
    for f in [
        "config",
        "resource",
        "resource0",
        "rom",
        "reset",
        "vendor",
        "device",
    ] {
        sys.file(&format!("devices/pci0000:00/0000:01:00.0/{f}"), b"");
    }
    for driver in ["", "<driver name='vfio'/>"] {
        let (_, rules, _) = create(
            &format!("<hostdev mode='subsystem' type='pci' managed='yes'>{driver}<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>"),
            "",
            &["--sysfs", &sys.s("")],
        );
        assert_lines(&rules, &["\"/dev/vfio/vfio\" rw,", "\"/dev/vfio/12\" rw,"]);
    }
}

/// A file checked once for one element family is checked again for another: the run's
/// memo of checked files is keyed by the scope too, so a serial port a
/// `<serial>` may have is still refused to an NVDIMM that names it after (same path, same
/// `rw`).
#[test]
fn a_file_checked_for_one_element_is_checked_again_for_another() {
    let xml = domain(
        "    <serial type='dev'><source path='/dev/ttyS0'/></serial>\n    \
         <memory model='nvdimm'><source><path>/dev/ttyS0</path></source><target><size>524288</size></target></memory>\n",
        "",
    );
    let err = create_refused(&xml, &[], 3);
    assert!(err.contains("(from memory nvdimm 0)"), "{err}");
}
