//! Image content never widens a profile. An image is untrusted input
//! (libvirt's secure-usage page; OpenStack CVE-2022-47951 and CVE-2024-32498): a file its
//! header names gets at most what a backing file gets (read-only), passes the
//! restricted-path policy, and only where QEMU itself opens it. A writable data file comes
//! from the XML (`<dataStore>`, libvirt >= 10.10). Also the class-7 header tests: every
//! format version the readers accept, from real `qemu-img` images or bytes patched by hand.

use crate::support::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn make(args: &[&str]) {
    let out = Command::new(qemu_img())
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `qemu-img create -q -f <fmt> [-o <opts>] <path> 1M`, directories made.
fn image(t: &Tree, rel: &str, fmt: &str, opts: &str) -> String {
    let p = t.path(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    let path = p.to_str().expect("utf-8");
    let mut args = vec!["create", "-q", "-f", fmt];
    if !opts.is_empty() {
        args.extend(["-o", opts]);
    }
    args.extend([path, "1M"]);
    make(&args);
    path.to_string()
}

/// A qcow2 image with an external data file `data` (absolute), made by qemu-img: the
/// header has the extension and incompatible bit 2.
fn with_data_file(t: &Tree, rel: &str, data: &str) -> String {
    fs::create_dir_all(Path::new(data).parent().expect("parent")).expect("mkdir");
    image(
        t,
        rel,
        "qcow2",
        &format!("data_file={data},data_file_raw=on"),
    )
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// Writes, by hand, a data-file extension naming `name` (and the end marker) where the
/// extensions of the qcow2 image `img` start (72 for version 2, the header length for 3),
/// and sets or clears the external-data-file bit (v3). qemu-img refuses to make these:
/// it creates the data file it names, and never writes the extension without the bit.
fn plant_data_file(img: &str, name: &str, bit: bool) {
    let mut b = fs::read(img).expect("read image");
    let at = if be32(&b, 4) == 3 { be32(&b, 100) } else { 72 };
    let mut ext = 0x4441_5441u32.to_be_bytes().to_vec();
    ext.extend_from_slice(&(name.len() as u32).to_be_bytes());
    ext.extend_from_slice(name.as_bytes());
    ext.resize(8 + name.len().div_ceil(8) * 8 + 8, 0);
    b[at..at + ext.len()].copy_from_slice(&ext);
    set_data_file_bit(&mut b, bit);
    fs::write(img, b).expect("write image");
}

/// Incompatible features are a u64 BE at 72 (v3): bit 2 is the last byte's 0x04.
fn set_data_file_bit(b: &mut [u8], bit: bool) {
    if be32(b, 4) == 3 {
        if bit {
            b[79] |= 4;
        } else {
            b[79] &= !4;
        }
    }
}

fn qcow2_disk(img: &str, target: &str, extra: &str) -> String {
    disk(
        img,
        target,
        &format!("      <driver name='qemu' type='qcow2'/>\n{extra}"),
    )
}

/// A qcow2 disk whose `<source>` holds a `<dataStore>` of `kind` (`file`/`block`).
fn data_store_disk(img: &str, kind: &str, data: &str, extra: &str) -> String {
    let attr = if kind == "block" { "dev" } else { "file" };
    format!(
        "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='{}'>\n        <dataStore type='{kind}'>\n          <format type='raw'/>\n          <source {attr}='{}'/>\n        </dataStore>\n      </source>\n      <target dev='vda' bus='virtio'/>\n{extra}    </disk>\n",
        xml_attr(img),
        xml_attr(data)
    )
}

/// Read-only, without libvirt 9.0's `deny w` (the default `backing_deny_write = no`).
fn ro(path: &str) -> [String; 1] {
    [format!("\"{path}\" rk,")]
}

fn rw(path: &str) -> String {
    format!("\"{path}\" rwk,")
}

fn want(lines: &[&[String]]) -> Vec<String> {
    lines.iter().flat_map(|l| l.iter().cloned()).collect()
}

#[track_caller]
fn assert_rules(o: &Run, want: &[String]) {
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_lines(&o.device_rules(), &want);
}

/// Rules that allow writing `path` (not a `deny`).
fn writable<'a>(rules: &'a [String], path: &str) -> Vec<&'a String> {
    let quoted = format!("\"{path}\"");
    rules
        .iter()
        .filter(|r| !r.starts_with("deny") && r.contains(&quoted))
        .filter(|r| r.rsplit(' ').next().is_some_and(|p| p.contains('w')))
        .collect()
}

/// A header naming `path` where QEMU would open it: refused, or granted at most read-only.
/// (`/root` joins the deny-list in another change: then the run is refused.)
#[track_caller]
fn never_writable(xml: &str, path: &str) {
    let o = run(&["-d", "-c", "-u", PROFILE], Some(xml));
    if o.status.success() {
        compile_dry_run(&o);
        let rules = o.dry_rules();
        assert!(writable(&rules, path).is_empty(), "{rules:?}");
    } else {
        assert!(o.stdout.is_empty(), "refused, nothing written");
        assert!(o.stderr.contains(path), "{}", o.stderr);
    }
}

/// QEMU opens a writable disk's data file read-write, so a read-only
/// grant could not make the disk work and would only give the image's uploader read access
/// to the file it names: no rule, and a warning saying to declare it. A read-only disk's
/// data file gets what a backing layer gets.
#[test]
fn header_data_file_of_a_writable_disk_gets_no_rule_of_a_read_only_one_what_a_layer_gets() {
    let t = Tree::new();
    let data = t.s("data/vm1.raw");
    let img = with_data_file(&t, "img/vm1.qcow2", &data);
    let xml = domain(&qcow2_disk(&img, "vda", ""), "");
    let (_, o) = create_ok(&xml, &[]);
    let o2 = dry_create(&xml, &[]);
    assert_rules(&o2, &[rw(&img)]);
    let err = o.stderr;
    assert!(
        err.contains("disk vda data file")
            && err.contains("gets no rule")
            && err.contains("declare it with <dataStore>"),
        "{err}"
    );
    // A read-only disk: the data file read-only, no advice needed.
    let xml = domain(&qcow2_disk(&img, "vda", "      <readonly/>\n"), "");
    let (policy, o) = create_ok(&xml, &[]);
    assert_literal_rule(&policy, &policy.profile(), Path::new(&data));
    assert!(!o.stderr.contains("<dataStore>"), "{}", o.stderr);
    let o = dry_create(&xml, &[]);
    assert_rules(&o, &want(&[&ro(&img), &ro(&data)]));
}

#[test]
fn data_file_extension_without_the_incompatible_bit_gets_no_rule() {
    // QEMU's qcow2_do_open ignores the extension unless bit 2 is set: no rule at all.
    let t = Tree::new();
    let data = t.s("data/x.raw");
    let img = with_data_file(&t, "img/x.qcow2", &data);
    let mut b = fs::read(&img).unwrap();
    set_data_file_bit(&mut b, false);
    fs::write(&img, b).unwrap();
    let o = dry_create(&domain(&qcow2_disk(&img, "vda", ""), ""), &[]);
    assert_rules(&o, &[rw(&img)]);
    // Nor can it name a restricted file: nothing is refused because nothing is granted.
    for name in ["/etc/shadow", "/root/.ssh/authorized_keys"] {
        plant_data_file(&img, name, false);
        let o = dry_create(&domain(&qcow2_disk(&img, "vda", ""), ""), &[]);
        assert_rules(&o, &[rw(&img)]);
    }
}

#[test]
fn version_2_images_have_no_data_file() {
    // compat=0.10 (version 2) has no feature fields: QEMU reads them as zero.
    let t = Tree::new();
    let img = image(&t, "v2.qcow2", "qcow2", "compat=0.10");
    let victim = t.s("vm2/disk.qcow2");
    t.qcow2("vm2/disk.qcow2", None);
    plant_data_file(&img, &victim, true);
    let o = dry_create(&domain(&qcow2_disk(&img, "vda", ""), ""), &[]);
    assert_rules(&o, &[rw(&img)]);
}

#[test]
fn header_data_file_naming_another_vms_image_or_root_keys_is_never_writable() {
    let t = Tree::new();
    t.qcow2("vm2/disk.qcow2", None);
    let victim = t.s("vm2/disk.qcow2");
    let img = t.qcow2("vm1/evil.qcow2", None);
    let img = img.to_str().unwrap();
    plant_data_file(img, &victim, true);
    // A writable disk: nothing for the victim, and a warning naming it.
    let xml = domain(&qcow2_disk(img, "vda", ""), "");
    let (_, o) = create_ok(&xml, &[]);
    let o2 = dry_create(&xml, &[]);
    assert_rules(&o2, &[rw(img)]);
    assert!(o.stderr.contains(&victim), "{}", o.stderr);
    // A read-only disk: read-only at most.
    let xml = domain(&qcow2_disk(img, "vda", "      <readonly/>\n"), "");
    let (policy, _) = create_ok(&xml, &[]);
    assert_literal_rule(&policy, &policy.profile(), Path::new(&victim));
    assert_rules(&dry_create(&xml, &[]), &want(&[&ro(img), &ro(&victim)]));
    // /root/.ssh/authorized_keys: refused, or at most read-only.
    plant_data_file(img, "/root/.ssh/authorized_keys", true);
    never_writable(&xml, "/root/.ssh/authorized_keys");
    // A restricted path is refused, naming the element.
    plant_data_file(img, "/etc/passwd", true);
    let err = create_refused(&xml, &[], 3);
    assert!(
        err.contains("'/etc/passwd'") && err.contains("disk vda data file"),
        "{err}"
    );
}

#[test]
fn relative_header_data_file_gets_no_rule() {
    // QEMU opens the name as given, relative to its working directory, not the image's.
    let t = Tree::new();
    t.file("img/data.raw", b"");
    let img = t.qcow2("img/rel.qcow2", None);
    let img = img.to_str().unwrap();
    plant_data_file(img, "data.raw", true);
    let o = dry_create(&domain(&qcow2_disk(img, "vda", ""), ""), &[]);
    assert_rules(&o, &[rw(img)]);
    assert!(o.stderr.contains("not an absolute path"), "{}", o.stderr);
}

#[test]
fn data_store_from_the_xml_gets_the_disks_permissions() {
    let t = Tree::new();
    let data = t.s("data/vm1.raw");
    let img = with_data_file(&t, "img/vm1.qcow2", &data);
    let xml = domain(&data_store_disk(&img, "file", &data, ""), "");
    let (policy, o) = create_ok(&xml, &[]);
    assert_literal_rule(&policy, &policy.profile(), Path::new(&data));
    assert!(!o.stderr.contains("<dataStore>"), "{}", o.stderr);
    let o = dry_create(&xml, &[]);
    assert_rules(&o, &[rw(&img), rw(&data)]);
    assert!(o.stdout.contains("# disk vda dataStore"), "{}", o.stdout);
    // The XML wins over the header: the header's name gets nothing.
    let other = t.s("data/declared.raw");
    let o = dry_create(&domain(&data_store_disk(&img, "file", &other, ""), ""), &[]);
    assert_rules(&o, &[rw(&img), rw(&other)]);
    // A block device, and a read-only disk.
    t.file("dev/fake-block", b"");
    let dev = t.s("dev/fake-block");
    let o = dry_create(&domain(&data_store_disk(&img, "block", &dev, ""), ""), &[]);
    assert_rules(&o, &[rw(&img), rw(&dev)]);
    let o = dry_create(
        &domain(
            &data_store_disk(&img, "file", &data, "      <readonly/>\n"),
            "",
        ),
        &[],
    );
    assert_rules(&o, &want(&[&ro(&img), &ro(&data)]));
    // Checked by the policy like the disk.
    let err = create_refused(
        &domain(&data_store_disk(&img, "file", "/etc/shadow", ""), ""),
        &[],
        3,
    );
    assert!(
        err.contains("'/etc/shadow'") && err.contains("dataStore"),
        "{err}"
    );
}

#[test]
fn backing_layers_data_files_are_read_only() {
    let t = Tree::new();
    let data = t.s("data/base.raw");
    let base = with_data_file(&t, "img/base.qcow2", &data);
    t.qcow2("img/top.qcow2", Some(("base.qcow2", "qcow2")));
    let top = t.s("img/top.qcow2");
    let o = dry_create(&domain(&qcow2_disk(&top, "vda", ""), ""), &[]);
    assert_rules(&o, &want(&[&[rw(&top)], &ro(&base), &ro(&data)]));
    assert!(
        o.stdout.contains("# disk vda backing 1 data file"),
        "{}",
        o.stdout
    );
    // An explicit <backingStore> with its own <dataStore>: read-only like the layer.
    let xml = format!(
        "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='{top}'/>\n      <backingStore type='file'>\n        <format type='qcow2'/>\n        <source file='{base}'>\n          <dataStore type='file'>\n            <format type='raw'/>\n            <source file='{data}'/>\n          </dataStore>\n        </source>\n        <backingStore/>\n      </backingStore>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
    );
    let o = dry_create(&domain(&xml, ""), &[]);
    assert_rules(&o, &want(&[&[rw(&top)], &ro(&base), &ro(&data)]));
    assert!(
        o.stdout.contains("# disk vda backing 1 dataStore"),
        "{}",
        o.stdout
    );
}

/// Rewrites the descriptor embedded at 0x200 of a qemu-img sparse VMDK, appending `extra`.
fn plant_in_embedded_descriptor(img: &str, extra: &str) {
    let mut b = fs::read(img).unwrap();
    let end = 0x200 + b[0x200..].iter().position(|&c| c == 0).unwrap();
    let text = format!("{}{extra}", String::from_utf8_lossy(&b[0x200..end]));
    assert!(text.len() < 20 * 512, "fits the descriptor area");
    b[0x200..0x200 + text.len()].copy_from_slice(text.as_bytes());
    fs::write(img, b).unwrap();
}

fn vmdk_disk(img: &str) -> String {
    disk(img, "vda", "      <driver name='qemu' type='vmdk'/>\n")
}

fn vmdk_disk_ro(img: &str) -> String {
    disk(
        img,
        "vda",
        "      <driver name='qemu' type='vmdk'/>\n      <readonly/>\n",
    )
}

#[test]
fn sparse_vmdk_embedded_extent_lines_give_nothing() {
    // QEMU reads the descriptor of a monolithicSparse/streamOptimized file for its parent
    // hint only (vmdk_open_sparse): extent lines planted there are never opened.
    let t = Tree::new();
    t.qcow2("vm2/disk.qcow2", None);
    let victim = t.s("vm2/disk.qcow2");
    for sub in ["monolithicSparse", "streamOptimized"] {
        let img = image(
            &t,
            &format!("{sub}.vmdk"),
            "vmdk",
            &format!("subformat={sub}"),
        );
        plant_in_embedded_descriptor(
            &img,
            &format!(
                "RW 2048 FLAT \"{victim}\" 0\nRW 2048 FLAT \"/root/.ssh/authorized_keys\" 0\nRW 2048 SPARSE \"/etc/shadow\"\n"
            ),
        );
        let o = dry_create(&domain(&vmdk_disk(&img), ""), &[]);
        assert_rules(&o, &[rw(&img)]);
    }
}

#[test]
fn descriptor_vmdk_extents_of_a_read_only_disk_are_read_only_of_a_writable_one_ungranted() {
    let t = Tree::new();
    for (sub, extent) in [
        ("monolithicFlat", "flat-flat.vmdk"),
        ("twoGbMaxExtentFlat", "two-f001.vmdk"),
        ("twoGbMaxExtentSparse", "sparse-s001.vmdk"),
    ] {
        let name = match sub {
            "monolithicFlat" => "flat.vmdk",
            "twoGbMaxExtentFlat" => "two.vmdk",
            _ => "sparse.vmdk",
        };
        let img = image(&t, name, "vmdk", &format!("subformat={sub}"));
        let ext = t.s(extent);
        // A writable disk: no rule for the extent, and the advice.
        let xml = domain(&vmdk_disk(&img), "");
        let (_, o) = create_ok(&xml, &[]);
        let err = o.stderr;
        assert!(
            err.contains("disk vda extent") && err.contains("docs/operating.md: VMDK descriptors"),
            "{sub}: {err}"
        );
        assert_rules(&dry_create(&xml, &[]), &[rw(&img)]);
        // A read-only disk: the extent read-only.
        let xml = domain(&vmdk_disk_ro(&img), "");
        let (policy, _) = create_ok(&xml, &[]);
        assert_literal_rule(&policy, &policy.profile(), Path::new(&ext));
        assert_rules(&dry_create(&xml, &[]), &want(&[&ro(&img), &ro(&ext)]));
    }
    // QEMU skips RDONLY and NOACCESS extents (vmdk_parse_extents): no rule.
    let img = t.s("flat.vmdk");
    let text = fs::read_to_string(&img).unwrap();
    fs::write(&img, text.replace("\nRW ", "\nRDONLY ")).unwrap();
    let o = dry_create(&domain(&vmdk_disk(&img), ""), &[]);
    assert_rules(&o, &[rw(&img)]);
    // An extent naming another VM's image from a descriptor: read-only at most.
    t.qcow2("vm2/disk.qcow2", None);
    let victim = t.s("vm2/disk.qcow2");
    fs::write(
        &img,
        text.replace("\"flat-flat.vmdk\"", &format!("\"{victim}\"")),
    )
    .unwrap();
    let o = dry_create(&domain(&vmdk_disk(&img), ""), &[]);
    assert_rules(&o, &[rw(&img)]);
    let o = dry_create(&domain(&vmdk_disk_ro(&img), ""), &[]);
    assert_rules(&o, &want(&[&ro(&img), &ro(&victim)]));
}

#[test]
fn rules_added_to_the_vm_profile_by_hand_survive_replace() {
    // docs/operating.md's advice for a writable VMDK extent: -r rewrites only .files.
    let t = Tree::new();
    let img = image(&t, "flat.vmdk", "vmdk", "subformat=monolithicFlat");
    let ext = t.s("flat-flat.vmdk");
    let xml = domain(&vmdk_disk(&img), "");
    let (policy, _) = create_ok(&xml, &[]);
    let profile = policy.profile();
    let text = fs::read_to_string(&profile).unwrap();
    let end = text.rfind('}').unwrap();
    let edited = format!("{}  \"{ext}\" rwk,\n{}", &text[..end], &text[end..]);
    fs::write(&profile, &edited).unwrap();
    let dir = policy.dir.to_str().unwrap();
    let o = run(
        &["-r", "-u", PROFILE, "--no-load", "--apparmor-dir", dir],
        Some(&xml),
    );
    assert!(o.status.success(), "{}", o.stderr);
    assert_eq!(fs::read_to_string(&profile).unwrap(), edited);
    policy.compile(&profile);
}

// Class 7: every header version the readers accept, from real images.

/// The rules for `top` (format `fmt`, made with `opts`) over a raw base `base.raw`.
fn over_raw_base(fmt: &str, opts: &str) -> (Tree, String, String) {
    let t = Tree::new();
    t.file("base.raw", &[0u8; 4096]);
    let base = t.s("base.raw");
    let mut o = format!("backing_file={base},backing_fmt=raw");
    if !opts.is_empty() {
        o = format!("{opts},{o}");
    }
    let top = image(&t, &format!("top.{fmt}"), fmt, &o);
    (t, top, base)
}

#[test]
fn qcow_version_1_and_qcow2_versions_2_and_3_read_their_backing_file() {
    for (fmt, opts) in [
        ("qcow", ""),
        ("qcow2", "compat=0.10"),
        ("qcow2", "compat=1.1"),
        ("qed", ""),
    ] {
        let (_t, top, base) = over_raw_base(fmt, opts);
        let b = fs::read(&top).unwrap();
        if fmt != "qed" {
            let version = be32(&b, 4);
            let want = match opts {
                "" => 1,
                "compat=0.10" => 2,
                _ => 3,
            };
            assert_eq!(version, want, "{fmt} {opts}");
        }
        let o = dry_create(
            &domain(
                &disk(
                    &top,
                    "vda",
                    &format!("      <driver name='qemu' type='{fmt}'/>\n"),
                ),
                "",
            ),
            &[],
        );
        assert_rules(&o, &want(&[&[rw(&top)], &ro(&base)]));
    }
}

#[test]
fn zero_backing_offset_means_no_backing_file() {
    for fmt in ["qcow", "qcow2"] {
        let (_t, top, _base) = over_raw_base(fmt, "");
        let mut b = fs::read(&top).unwrap();
        // The offset u64 BE at 8 zeroed; the size at 16 left as it is.
        assert_ne!(be32(&b, 16), 0);
        b[8..16].fill(0);
        fs::write(&top, b).unwrap();
        let o = dry_create(
            &domain(
                &disk(
                    &top,
                    "vda",
                    &format!("      <driver name='qemu' type='{fmt}'/>\n"),
                ),
                "",
            ),
            &[],
        );
        assert_rules(&o, &[rw(&top)]);
    }
}

#[test]
fn a_backing_name_ending_at_the_last_byte_read_is_read_one_byte_later_refused() {
    // The helper reads 64 KiB of a header; qcow2's default cluster is 64 KiB, so QEMU
    // accepts a name anywhere in it.
    let t = Tree::new();
    t.file("base.raw", &[0u8; 4096]);
    let name = t.s("base.raw");
    let top = t.qcow2("top.qcow2", None);
    let top = top.to_str().unwrap().to_string();
    let mut b = fs::read(&top).unwrap();
    b.resize(b.len().max(70 * 1024), 0);
    let at = 64 * 1024 - name.len();
    b[at..at + name.len()].copy_from_slice(name.as_bytes());
    b[8..16].copy_from_slice(&(at as u64).to_be_bytes());
    b[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
    fs::write(&top, &b).unwrap();
    let xml = domain(&qcow2_disk(&top, "vda", ""), "");
    let o = dry_create(&xml, &[]);
    assert_rules(&o, &want(&[&[rw(&top)], &ro(&name)]));
    b.copy_within(at..at + name.len(), at + 1);
    b[8..16].copy_from_slice(&(at as u64 + 1).to_be_bytes());
    fs::write(&top, &b).unwrap();
    let err = create_refused(&xml, &[], 3);
    assert!(err.contains("corrupt header"), "{err}");
}

#[test]
fn sparse_vmdk_versions_1_to_3_read_their_parent_and_4_is_refused() {
    let t = Tree::new();
    let parent = image(&t, "parent.vmdk", "vmdk", "");
    let child = t.path("child.vmdk");
    make(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-b",
        "parent.vmdk",
        "-F",
        "vmdk",
        child.to_str().unwrap(),
        "1M",
    ]);
    let child = t.s("child.vmdk");
    let xml = domain(&vmdk_disk(&child), "");
    let mut b = fs::read(&child).unwrap();
    for v in 1u32..=3 {
        b[4..8].copy_from_slice(&v.to_le_bytes());
        fs::write(&child, &b).unwrap();
        let o = dry_create(&xml, &[]);
        assert_rules(&o, &want(&[&[rw(&child)], &ro(&parent)]));
    }
    b[4..8].copy_from_slice(&4u32.to_le_bytes());
    fs::write(&child, &b).unwrap();
    let err = create_refused(&xml, &[], 3);
    assert!(err.contains("unsupported vmdk version 4"), "{err}");
}

/// A block device of this machine (`/dev/<name>` of the first entry of `/sys/class/block`
/// that has a node): never opened by the test, only named in a header.
fn host_block_device() -> String {
    let mut names: Vec<String> = fs::read_dir("/sys/class/block")
        .expect("/sys/class/block")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| {
            use std::os::unix::fs::FileTypeExt;
            fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
        })
        .expect("a block device node in /dev")
}

/// A file named only by image bytes must be a regular file. A backing
/// name, a data file or a VMDK extent naming a host block device (the whole disk), a
/// character device or a directory is refused naming both and the way to declare a chain on
/// block devices; nothing is written. (libvirt 9.0 grants the backing device `rk`.)
#[test]
fn header_names_of_devices_and_directories_are_refused() {
    let t = Tree::new();
    let dev = host_block_device();
    let dir = t.dir("a-directory");
    for (i, name) in [dev.as_str(), "/dev/null", dir.to_str().unwrap()]
        .into_iter()
        .enumerate()
    {
        // qemu-img -u: the backing file is named, never opened.
        let top = t.path(&format!("img/top{i}.qcow2"));
        fs::create_dir_all(top.parent().unwrap()).unwrap();
        let top = top.to_str().unwrap().to_string();
        make(&[
            "create", "-q", "-f", "qcow2", "-u", "-b", name, "-F", "raw", &top, "1M",
        ]);
        let err = create_refused(&domain(&qcow2_disk(&top, "vda", ""), ""), &[], 3);
        assert!(
            err.contains(&format!("'{name}'"))
                && err.contains(&format!("named by the header of '{top}'"))
                && err.contains("must be a regular file")
                && err.contains("<backingStore type='block'>"),
            "{name}: {err}"
        );
    }
    // A data file (the extension with the incompatible bit) naming the block device.
    let img = image(&t, "img/data.qcow2", "qcow2", "");
    plant_data_file(&img, &dev, true);
    let err = create_refused(
        &domain(&qcow2_disk(&img, "vda", "      <readonly/>\n"), ""),
        &[],
        3,
    );
    assert!(
        err.contains(&format!("'{dev}'")) && err.contains("must be a regular file"),
        "{err}"
    );
    // A VMDK descriptor whose RW extent is the block device.
    let desc = t.file(
        "img/desc.vmdk",
        format!(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 2048 FLAT \"{dev}\" 0\n"
        )
        .as_bytes(),
    );
    let xml = domain(
        &disk(
            desc.to_str().unwrap(),
            "vda",
            "      <driver name='qemu' type='vmdk'/>\n      <readonly/>\n",
        ),
        "",
    );
    let err = create_refused(&xml, &[], 3);
    assert!(
        err.contains(&format!("'{dev}'")) && err.contains("must be a regular file"),
        "{err}"
    );
    // The same chain declared in the XML, on a block device the admin names: granted.
    let top = t.path("img/top0.qcow2").display().to_string();
    let declared = format!(
        "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='{top}'/>\n      <backingStore type='block'>\n        <format type='raw'/>\n        <source dev='{dev}'/>\n        <backingStore/>\n      </backingStore>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
    );
    let o = dry_create(&domain(&declared, ""), &[]);
    assert!(o.status.success(), "{}", o.stderr);
    assert!(
        o.stdout.contains(&format!("  \"{dev}\" rk,")),
        "{}",
        o.stdout
    );
}
