//! Rules for whole domains, across element families: the order of warnings, refusals
//! naming their element, and domains with many families at once. Each family's own tests
//! are beside it (`rules/<family>.rs`).

use super::testing::*;

#[test]
fn restricted_paths_are_refused_with_the_element() {
    let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
        <os><type>hvm</type></os><devices><disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices></domain>";
    let d = parse_domain(xml).unwrap();
    let e = build(&d, None, &mut Fake::default(), &mut Diagnostics::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'/etc/passwd': /etc is never allowed (restricted location) (from disk vda)"
    );
    let kernel = xml
        .replace("<devices>", "<devices/>")
        .replace(
            "<disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices>",
            "",
        )
        .replace(
            "<type>hvm</type>",
            "<type>hvm</type><kernel>/boot/vmlinuz</kernel>",
        );
    assert!(build(
        &parse_domain(&kernel).unwrap(),
        None,
        &mut Fake::default(),
        &mut Diagnostics::default()
    )
    .is_ok());
}

/// The resolver's warnings and this stage's come out as one stream in document order,
/// and those found before a failing element are not lost with the error.
#[test]
fn warnings_in_document_order_also_when_the_build_fails() {
    let disks = "<disk type='file'><source file='/new/a.img'/><target dev='vda'/></disk>\
        <disk type='file'><source file='/i/admin.img'><seclabel model='apparmor' relabel='no'/></source><target dev='vdb'/></disk>\
        <disk type='file'><source file='/new/c.img'/><target dev='vdc'/></disk>";
    let want = [
        "/new/a.img (disk vda) is new",
        "disk vdb: <seclabel model='apparmor' relabel='no'/>: no rule written for it",
        "/new/c.img (disk vdc) is new",
    ];
    let xml = |extra: &str| {
        format!(
            "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type></os><devices>{disks}{extra}</devices></domain>"
        )
    };
    let text = |w: Vec<Warning>| w.into_iter().map(|w| w.0).collect::<Vec<_>>();

    let mut warnings = Diagnostics::default();
    let ok = build(
        &parse_domain(&xml("")).unwrap(),
        None,
        &mut Fake::default(),
        &mut warnings,
    );
    assert!(ok.is_ok());
    assert_eq!(text(warnings.into_warnings()), want);

    let shadow = "<disk type='file'><source file='/etc/shadow'/><target dev='vdd'/></disk>";
    let mut warnings = Diagnostics::default();
    let e = build(
        &parse_domain(&xml(shadow)).unwrap(),
        None,
        &mut Fake::default(),
        &mut warnings,
    )
    .unwrap_err();
    assert!(e.to_string().contains("(from disk vdd)"), "{e}");
    assert_eq!(text(warnings.into_warnings()), want);
}

/// Rules are built family by family in libvirt's order (disks, chardevs, ..., the paths
/// 9.0 ignored), but warnings come out in the order of their elements in the document.
#[test]
fn warnings_across_element_families_follow_the_document() {
    let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
        <os><type>hvm</type><nvram>/new/nv.fd</nvram></os><devices>\
        <audio id='1' type='file' path='rel.wav'/>\
        <disk type='file'><source file='/new/a.img'/><target dev='vda'/></disk>\
        <serial type='file'><source path='/new/s0'/></serial>\
        <disk type='file'><source file='/i/admin.img'><seclabel model='apparmor' relabel='no'/></source><target dev='vdb'/></disk>\
        </devices></domain>";
    let mut diag = Diagnostics::default();
    build(
        &parse_domain(xml).unwrap(),
        None,
        &mut Fake::default(),
        &mut diag,
    )
    .unwrap();
    let got: Vec<String> = diag.into_warnings().into_iter().map(|w| w.0).collect();
    assert_eq!(
        got,
        [
            "/new/nv.fd (os nvram) is new",
            "audio 0: 'rel.wav' is not an absolute path; no rule",
            "/new/a.img (disk vda) is new",
            "/new/s0 (serial 0) is new",
            "disk vdb: <seclabel model='apparmor' relabel='no'/>: no rule written for it",
        ]
    );
}

#[test]
fn graphics_hostdevs_and_gl() {
    let got = lines(
        "<graphics type='vnc' socket='/run/vnc.sock'/>\
         <graphics type='spice'><listen type='socket' socket='/run/spice.sock'/><gl enable='yes'/></graphics>\
         <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>\
         <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>",
        "",
        &mut Fake::default(),
    );
    // A VFIO device gets its group, never the legacy sysfs files
    // (QEMU's vfio-pci reaches config space through the device descriptor).
    assert_eq!(
        &got[6..10],
        [
            "/run/vnc.sock rw <graphics vnc 0>",
            "/dev/dri/renderD128 rw <graphics spice 1 rendernode>",
            "/run/spice.sock rw <graphics spice 1>",
            "/dev/vfio/vfio rw <hostdev vfio>",
        ]
    );
    assert_eq!(got[10], "/dev/vfio/7 rw <hostdev pci 0000:06:12.5>");
    assert_eq!(got[11], "/usr/lib{,32,64}/dri/*.so* mr <graphics gl>");
    assert!(
        !got.iter().any(|l| l.starts_with("/sys/devices/pci")),
        "{got:?}"
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("/var/lib/libvirt/.cache/ deny w <graphics gl>")
    );
}

#[test]
fn shares_inputs_memory_shmem_tpm_smartcard() {
    let got = lines(
        "<filesystem type='mount'><source dir='/export/fs1'/><target dir='fs1'/></filesystem>\
         <filesystem type='mount'><driver type='virtiofs'/><source dir='/export/vfs'/><target dir='v'/></filesystem>\
         <filesystem type='mount'><source dir='/export/ro'/><target dir='ro'/><readonly/></filesystem>\
         <input type='passthrough' bus='virtio'><source evdev='/dev/input/event1'/></input>\
         <interface type='vhostuser'><source type='unix' path='/run/vhost.sock' mode='server'/><model type='virtio'/></interface>\
         <memory model='nvdimm'><source><path>/tmp/nvdimm</path></source></memory>\
         <shmem name='s0'><model type='ivshmem-plain'/></shmem>\
         <shmem name='s1'><model type='ivshmem-doorbell'/></shmem>\
         <shmem name='s2'><model type='ivshmem-plain'/><server path='/run/shm.sock'/></shmem>\
         <tpm model='tpm-tis'><backend type='emulator'/></tpm>\
         <smartcard mode='host-certificates'><database>/srv/nss/</database></smartcard>\
         <smartcard mode='host'/>",
        "",
        &mut Fake::default(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/export/fs1/** rwl <filesystem fs1>",
            "/export/fs1/ r <filesystem fs1>",
            "/export/ro/** r <filesystem ro>",
            "/export/ro/ r <filesystem ro>",
            "/dev/input/event1 rw <input 0>",
            "/run/vhost.sock rw <interface 0 vhostuser>",
            "/tmp/nvdimm rw <memory nvdimm 0>",
            "/dev/shm/s0 rw <shmem s0>",
            "/var/lib/libvirt/shmem-s1-sock rw <shmem s1>",
            "/run/shm.sock rw <shmem s2>",
            "/run/libvirt/qemu/swtpm/3-vm1-swtpm.sock rw <tpm 0>",
            "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ab/tpm1.2/ r <tpm 0>",
            "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ab/tpm1.2/** rwk <tpm 0>",
            "/var/log/swtpm/libvirt/qemu/vm1-swtpm.log w <tpm 0>",
            "/run/libvirt/qemu/swtpm/3-vm1-swtpm.pid rw <tpm 0>",
            "/srv/nss/{,*} rk <smartcard 0>",
            "/etc/pki/nssdb/{,*} rk <smartcard 1>",
        ]
    );
}

#[test]
fn hostile_device_strings_are_escaped_or_refused() {
    // The smartcard database was a raw rule injection in libvirt 9.0 (W3).
    let got = lines(
        "<smartcard mode='host-certificates'><database>/tmp/x\" rwkl, /** rwkl, #</database></smartcard>\
         <shmem name='a*{b}'><model type='ivshmem-plain'/></shmem>",
        "",
        &mut Fake::default(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/dev/shm/a\\*\\{b\\} rw <shmem a??b?>",
            "/tmp/x\\\" rwkl\\, /\\*\\* rwkl\\, \\043/{,*} rk <smartcard 0>",
        ]
    );
    let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
        <os><type>hvm</type></os><devices><filesystem><source dir='/etc'/><target dir='e'/></filesystem></devices></domain>";
    let e = build(
        &parse_domain(xml).unwrap(),
        None,
        &mut Fake::default(),
        &mut Diagnostics::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "'/etc': /etc is never allowed (restricted location) (from filesystem e)"
    );
}
