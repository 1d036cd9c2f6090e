#!/usr/bin/env python3
"""Hand mutation of the restricted-location table.

cargo-mutants does not delete entries from a list, so this does: for each entry of the
rows of TABLE in src/policy.rs whose role is selected, in a scratch clone of this
checkout, delete it and run tests/it/must_refuse.rs (its own hand-typed lists) and the policy
and state unit tests. Every deletion must make one of them fail. Takes hours on 2 cores for
every role; not run in CI. ROLE arguments select the rows by role: Never, ReadOnly,
ReadOnlyInside, AllowedInside, HostdevInside, Device, Shared (default: Never, Device,
Shared; the old table names RESTRICTED, DEVICES and SHARED are accepted for them).

    tests/mutants/delete-each-entry.py [SCRATCH_DIR [ROLE...]]
"""
import pathlib, re, shutil, subprocess, sys

repo = pathlib.Path(__file__).resolve().parents[2]
work = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vah-delete-each-entry")
shutil.rmtree(work, ignore_errors=True)
subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True)
policy = work / "src/policy.rs"
orig = policy.read_text()

ALIASES = {"RESTRICTED": "Never", "DEVICES": "Device", "SHARED": "Shared"}
# A row is `Row { role: Role::Device(&[...]), paths: &[...], ... }` (the role
# `Role::X`, or `pool(...)`, which builds a `Role::Shared`), or a call of one of the
# helpers that build a whole row: `never(&[...], ...)`, `kept(&[...], ...)`, `live(&[...], ...)`.
ROLE_OF = [(r"Role::(\w+)", None), (r"pool\(", "Shared")]
ROW_HELPERS = {"never": "Never", "kept": "Shared", "live": "Shared"}


def rows():
    """Each row of TABLE: (role, start and end offsets of its `paths: &[...]` list)."""
    start = orig.index("pub const TABLE: &[Row] = &[")
    end = orig.index("\n];", start)
    for m in re.finditer(r"^    (never|kept|live)\(\s*&\[", orig[start:end], re.M):
        p = start + m.end()
        yield ROW_HELPERS[m.group(1)], p, orig.index("]", p)
    for m in re.finditer(r"\bRow \{\s*role:\s*", orig[start:end]):
        at = start + m.end()
        role = None
        for pattern, name in ROLE_OF:
            r = re.match(pattern, orig[at:])
            if r:
                role = name or r.group(1)
                break
        if role is None:
            sys.exit(f"cannot read the role at offset {at}")
        p = orig.index("paths: &[", at) + len("paths: &[")
        q = orig.index("]", p)
        yield role, p, q


def entries(role):
    """Each entry of the rows of `role`: the span to delete (string, comma, blanks)."""
    for r, p, q in rows():
        if r != role:
            continue
        for m in re.finditer(r'"([^"]+)"\s*,?\s*', orig[p:q]):
            yield p + m.start(), p + m.end(), m.group(1)


def fails(*args):
    return subprocess.run(["cargo", "test", "-q", *args], cwd=work,
                          capture_output=True).returncode != 0

# A deletion counts as caught when a test fails: the tests must pass before any.
if fails("--test", "it", "--", "must_refuse::") or fails("--lib", "--", "policy::", "state::"):
    sys.exit("the tests fail on the unmodified table: nothing to measure")

unpinned = []
total = 0
roles = [ALIASES.get(a, a) for a in sys.argv[2:]] or ["Never", "Device", "Shared"]
for role in roles:
    found = list(entries(role))
    if not found:
        sys.exit(f"no entry of role {role} in TABLE")
    for a, b, entry in found:
        total += 1
        policy.write_text(orig[:a] + orig[b:])
        if fails("--test", "it", "--", "must_refuse::"):
            how = "tests/it/must_refuse.rs fails"
        elif fails("--lib", "--", "policy::", "state::"):
            how = "only the policy or state unit tests fail"
        else:
            how = "NOTHING FAILS"
            unpinned.append(entry)
        print(f"{role} {entry}: {how}", flush=True)
policy.write_text(orig)
print(f"{total - len(unpinned)} of {total} deletions are caught")
sys.exit(1 if unpinned else 0)
