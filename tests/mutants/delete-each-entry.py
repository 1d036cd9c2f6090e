#!/usr/bin/env python3
"""Hand mutation of the restricted-path tables.

cargo-mutants does not delete entries from a list, so this does: for each entry of
RESTRICTED, SHARED and DEVICES (the device trees of one element family) in
src/policy.rs, in a scratch clone of this checkout, delete it and run tests/must_refuse.rs
(its own hand-typed lists) and the policy unit tests. Every deletion must make one of them
fail. Takes 30 to 60 minutes on 2 cores; not run in CI. TABLE arguments select tables.

    tests/mutants/delete-each-entry.py [SCRATCH_DIR [TABLE...]]
"""
import pathlib, re, shutil, subprocess, sys

repo = pathlib.Path(__file__).resolve().parents[2]
work = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vah-delete-each-entry")
shutil.rmtree(work, ignore_errors=True)
subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True)
policy = work / "src/policy.rs"
orig = policy.read_text()

def entries(name):
    start = orig.index(f"const {name}: &[")
    end = orig.index("\n];", start) + 1
    # `"path",` (RESTRICTED, SHARED) or `("path", &[families]),` (DEVICES).
    entry = r'^\s*(?:"([^"]+)",|\("([^"]+)", &\[[^\]]*\]\),)\n'
    for m in re.finditer(entry, orig[start:end], re.M):
        yield start + m.start(), start + m.end(), m.group(1) or m.group(2)

def fails(*args):
    return subprocess.run(["cargo", "test", "-q", *args], cwd=work,
                          capture_output=True).returncode != 0

unpinned = []
total = 0
for table in sys.argv[2:] or ["RESTRICTED", "SHARED", "DEVICES"]:
    for a, b, entry in entries(table):
        total += 1
        policy.write_text(orig[:a] + orig[b:])
        if fails("--test", "must_refuse"):
            how = "tests/must_refuse.rs fails"
        elif fails("--lib", "policy::"):
            how = "only the policy unit tests fail"
        else:
            how = "NOTHING FAILS"
            unpinned.append(entry)
        print(f"{table} {entry}: {how}", flush=True)
policy.write_text(orig)
print(f"{total - len(unpinned)} of {total} deletions are caught")
sys.exit(1 if unpinned else 0)
