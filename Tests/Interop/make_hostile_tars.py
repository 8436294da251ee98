#!/usr/bin/env python3
"""Writes a corpus of hostile tar layers for Sovereign's safe extractor.

Usage: make_hostile_tars.py OUTDIR

The archives are written with Python's `tarfile` (a tar writer that is not
ours, so the corpus does not share our writer's assumptions), plus a few
byte-level edits where tarfile refuses to write something hostile (a size
header over a short body, a cut archive, a metadata header claiming 10 TiB,
a broken checksum).

OUTDIR/cases.json lists every case:

    {"cases": [{"name", "why", "layers": [file, ...],
                "signed": [{"path", "size", "sha256"}, ...],
                "expect": "substring of the error"}, ...],
     "controls": [{"name", "why", "layers", "signed"}, ...],
     "mustNotExist": [absolute paths no case may create]}

`signed` is the file list to give the extractor (what a signed
sovereign/image.json would list). Every case must be refused with an
error containing `expect`, either while extracting a layer or at finish().
Controls are well-formed archives from the same writer that must extract:
they show the cases fail for their hostile part, not for being tarfile's.

Paths starting with "../" are relative to the extraction root; the test
puts a sentinel directory `outside/` (holding `victim.txt`) beside the root
so escapes have something to hit.
"""
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 1_700_000_000
TEN_TIB = 10 * (1 << 40)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def signed(path, data, size=None):
    """A signed-list entry for `data` at `path` (size overridable)."""
    return {"path": path, "size": len(data) if size is None else size, "sha256": sha256(data)}


class Layer:
    """Builds one tar in memory with tarfile, entry by entry."""

    def __init__(self, fmt=tarfile.PAX_FORMAT):
        self.buffer = io.BytesIO()
        # surrogateescape lets a str carry raw non-UTF-8 bytes into the name.
        self.tar = tarfile.open(fileobj=self.buffer, mode="w", format=fmt,
                                encoding="utf-8", errors="surrogateescape")

    def info(self, name, kind=tarfile.REGTYPE, mode=0o644, **extra):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = MTIME
        for key, value in extra.items():
            setattr(info, key, value)
        return info

    def file(self, name, data, mode=0o644, **extra):
        info = self.info(name, mode=mode, **extra)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))
        return self

    def directory(self, name, mode=0o755):
        self.tar.addfile(self.info(name, tarfile.DIRTYPE, mode))
        return self

    def special(self, name, kind, **extra):
        self.tar.addfile(self.info(name, kind, **extra))
        return self

    def bytes(self):
        self.tar.close()
        # tarfile pads to a 10240-byte record after the two end-of-archive
        # blocks; a Sovereign layer ends exactly at them (nothing may hide
        # after), as our own writer makes it, so cut the padding.
        return self.buffer.getvalue()[:self.tar.offset]


def header(name, size, fmt):
    """One header block (plus any pax/GNU blocks) claiming `size` bytes."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = MTIME
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def raw_block(name, typeflag, size):
    """A ustar header block built by hand, for sizes tarfile will not write
    on special entries; sizes of 8 GiB and over in GNU base-256."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    if size < 8 ** 11:
        block[124:136] = b"%011o\0" % size
    else:
        block[124:136] = b"\x80" + size.to_bytes(11, "big")
    block[136:148] = b"%011o\0" % MTIME
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_hostile_tars.py OUTDIR")
    outdir = os.path.abspath(sys.argv[1])
    os.makedirs(outdir, exist_ok=True)
    # Absolute paths the archives aim at: inside OUTDIR, so a failing
    # extractor damages only the test's scratch space, never the host.
    absolute_target = os.path.join(outdir, "absolute-target")

    ok = b"a harmless file\n"
    model = bytes(range(256)) * 4
    cases = []
    controls = []

    def add(name, why, layers, signed_list, expect):
        files = []
        for index, data in enumerate(layers):
            file_name = f"{name}.tar" if len(layers) == 1 else f"{name}.{index + 1}.tar"
            with open(os.path.join(outdir, file_name), "wb") as out:
                out.write(data)
            files.append(file_name)
        entry = {"name": name, "why": why, "layers": files, "signed": signed_list}
        if expect is None:
            controls.append(entry)
        else:
            entry["expect"] = expect
            cases.append(entry)

    ok_signed = [signed("sovereign/ok.txt", ok)]

    def with_ok(fmt=tarfile.PAX_FORMAT):
        """A layer that starts well: the signed directory and file."""
        return Layer(fmt).directory("sovereign/").file("sovereign/ok.txt", ok)

    # --- Names that leave the root -------------------------------------
    add("absolute-path", "an absolute path would write anywhere on the host",
        [with_ok().file(absolute_target + "/pwned", b"pwned\n").bytes()],
        ok_signed, "is an absolute path")
    add("dotdot-escape", "a leading ../ writes beside the root",
        [with_ok().file("../outside/new.txt", b"pwned\n").bytes()],
        ok_signed, "has a '..' component")
    add("dotdot-overwrite", "../ aimed at an existing file beside the root",
        [with_ok().file("../outside/victim.txt", b"pwned\n").bytes()],
        ok_signed, "has a '..' component")
    add("dotdot-inner", "a/../../b climbs out after first going down",
        [with_ok().file("sovereign/../../outside/new.txt", b"pwned\n").bytes()],
        ok_signed, "has a '..' component")
    add("pax-path-dotdot", "a pax 'path' record renames a harmless ustar name to ../",
        [with_ok().file("sovereign/renamed.txt", b"pwned\n",
                        pax_headers={"path": "../outside/victim.txt"}).bytes()],
        ok_signed + [signed("sovereign/renamed.txt", b"pwned\n")], "has a '..' component")
    add("pax-path-absolute", "a pax 'path' record renames a harmless name to an absolute path",
        [with_ok().file("sovereign/renamed.txt", b"pwned\n",
                        pax_headers={"path": absolute_target + "/pax"}).bytes()],
        ok_signed + [signed("sovereign/renamed.txt", b"pwned\n")], "is an absolute path")
    add("gnu-longname-dotdot", "a GNU ././@LongLink name (over 100 bytes) hiding ../",
        [with_ok(tarfile.GNU_FORMAT).file(
            "sovereign/" + "x" * 120 + "/../../../outside/new.txt", b"pwned\n").bytes()],
        ok_signed, "has a '..' component")

    # --- Links and special files ---------------------------------------
    add("symlink-etc-passwd", "a symlink out of the root (to /etc/passwd)",
        [with_ok().special("sovereign/passwd", tarfile.SYMTYPE, linkname="/etc/passwd").bytes()],
        ok_signed, "is a symbolic link")
    add("symlink-then-file", "a symlink to the outside, then a signed file written through it",
        [Layer().directory("sovereign/")
         .special("sovereign/link", tarfile.SYMTYPE, linkname="../../outside")
         .file("sovereign/link/new.txt", b"pwned\n").bytes()],
        [signed("sovereign/link/new.txt", b"pwned\n")], "is a symbolic link")
    add("symlink-absolute-dir", "a symlink to an absolute directory, then a file through it",
        [Layer().directory("sovereign/")
         .special("sovereign/abs", tarfile.SYMTYPE, linkname=absolute_target)
         .file("sovereign/abs/pwned", b"pwned\n").bytes()],
        [signed("sovereign/abs/pwned", b"pwned\n")], "is a symbolic link")
    add("hardlink-etc-passwd", "a hard link to a host file",
        [with_ok().special("sovereign/h", tarfile.LNKTYPE, linkname="/etc/passwd").bytes()],
        ok_signed, "is a hard link")
    add("hardlink-to-signed-file", "a hard link to a signed file: two names, one inode",
        [with_ok().special("sovereign/again.txt", tarfile.LNKTYPE, linkname="sovereign/ok.txt").bytes()],
        ok_signed + [signed("sovereign/again.txt", ok)], "is a hard link")
    add("char-device", "a character device at a signed path (/dev/null's numbers)",
        [with_ok().special("sovereign/model.gguf", tarfile.CHRTYPE, devmajor=1, devminor=3).bytes()],
        ok_signed + [signed("sovereign/model.gguf", b"")], "is a character device")
    add("block-device", "a block device (a disk's numbers)",
        [with_ok().special("sovereign/disk", tarfile.BLKTYPE, devmajor=8, devminor=0).bytes()],
        ok_signed, "is a block device")
    add("fifo", "a FIFO would block whoever opens it",
        [with_ok().special("sovereign/fifo", tarfile.FIFOTYPE).bytes()],
        ok_signed, "is a FIFO")
    sparse_pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                  "GNU.sparse.name": "sovereign/sparse.bin", "GNU.sparse.realsize": "1048576"}
    add("gnu-sparse", "a GNU sparse file (pax 1.0): holes the archive does not store",
        [with_ok().file("sovereign/GNUSparseFile.0/sparse.bin", b"1\n0\n4\n".ljust(512, b"\0") + b"data",
                        pax_headers=sparse_pax).bytes()],
        ok_signed + [signed("sovereign/sparse.bin", b"data" + bytes(1048576 - 4))], "is a sparse file")

    # --- Mode bits -----------------------------------------------------
    tool = b"#!/bin/sh\necho hi\n"
    add("setuid-file", "setuid root executable",
        [with_ok().file("sovereign/su", tool, mode=0o4755).bytes()],
        ok_signed + [signed("sovereign/su", tool)], "setuid")
    add("setgid-file", "setgid executable",
        [with_ok().file("sovereign/sg", tool, mode=0o2755).bytes()],
        ok_signed + [signed("sovereign/sg", tool)], "setgid")
    add("sticky-directory", "a world-writable sticky directory",
        [Layer().directory("sovereign/").directory("sovereign/tmp/", mode=0o1777)
         .file("sovereign/tmp/a.txt", ok).bytes()],
        [signed("sovereign/tmp/a.txt", ok)], "sticky")

    # --- Against the signed list ---------------------------------------
    add("duplicate-path", "the same file twice in one layer (the second could replace the checked one)",
        [with_ok().file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "appears more than once")
    add("duplicate-across-layers", "the same file in two layers",
        [with_ok().bytes(), Layer().directory("sovereign/").file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "appears more than once")
    add("not-signed", "a file the signed list does not have",
        [with_ok().file("sovereign/extra.txt", b"extra\n").bytes()],
        ok_signed, "is not in the signed file list")
    add("bigger-than-signed", "a file with more bytes than signed",
        [with_ok().file("sovereign/model.gguf", model + b"more").bytes()],
        ok_signed + [signed("sovereign/model.gguf", model)],
        f"is {len(model) + 4} bytes in the archive, the signed image lists {len(model)}")
    add("smaller-than-signed", "a file with fewer bytes than signed",
        [with_ok().file("sovereign/model.gguf", model[:100]).bytes()],
        ok_signed + [signed("sovereign/model.gguf", model)],
        f"is 100 bytes in the archive, the signed image lists {len(model)}")
    add("wrong-content", "right size, wrong bytes (one flipped)",
        [with_ok().file("sovereign/model.gguf", model[:-1] + b"\x00").bytes()],
        ok_signed + [signed("sovereign/model.gguf", model)], f"the signed image lists {sha256(model)}")
    # A header claiming 10 TiB over a body of a few bytes: must stop at the
    # header, not read (or allocate, or write) towards 10 TiB.
    bomb_pax = header("sovereign/model.gguf", TEN_TIB, tarfile.PAX_FORMAT) + model[:512]
    add("huge-size-pax", "pax 'size' record claims 10 TiB on a short archive (tar bomb)",
        [bomb_pax], ok_signed + [signed("sovereign/model.gguf", model)],
        f"is {TEN_TIB} bytes in the archive, the signed image lists {len(model)}")
    bomb_gnu = header("sovereign/model.gguf", TEN_TIB, tarfile.GNU_FORMAT) + model[:512]
    add("huge-size-gnu", "GNU base-256 size field claims 10 TiB on a short archive (tar bomb)",
        [bomb_gnu], ok_signed + [signed("sovereign/model.gguf", model)],
        f"is {TEN_TIB} bytes in the archive, the signed image lists {len(model)}")
    add("huge-size-signed-truncated", "a signed huge file whose archive stops early",
        [header("sovereign/model.gguf", TEN_TIB, tarfile.PAX_FORMAT) + model[:512]],
        [signed("sovereign/model.gguf", model, size=TEN_TIB)], "truncated")
    # The same claim on a metadata entry, which a reader must hold in
    # memory whole: libarchive caps pax and GNU long-name bodies at 1 MiB
    # ("Special header too large" in 3.6; newer versions word it, and warn
    # rather than fail, differently, and the extractor refuses warnings).
    add("pax-header-bomb", "a pax extended header claiming 10 TiB (read into memory by readers)",
        [raw_block(b"././@PaxHeader", b"x", TEN_TIB) + b"30 path=sovereign/model.gguf\n".ljust(1024, b"\0")],
        ok_signed, "libarchive: ")
    add("gnu-longname-bomb", "a GNU ././@LongLink name claiming 10 TiB",
        [raw_block(b"././@LongLink", b"L", TEN_TIB) + b"sovereign/model.gguf".ljust(1024, b"\0")],
        ok_signed, "libarchive: ")
    add("missing-signed-file", "a signed file no layer carries",
        [with_ok().bytes()], ok_signed + [signed("sovereign/model.gguf", model)],
        "is in the signed file list but in no layer")
    add("directory-where-file-signed", "a directory where the signed list has a file",
        [with_ok().directory("sovereign/model.gguf/").bytes()],
        ok_signed + [signed("sovereign/model.gguf", model)], "is a directory, the signed image lists a file")
    add("file-where-directory-needed", "a file where signed files need a directory",
        [Layer().directory("sovereign/").file("sovereign/model", b"pwned\n")
         .file("sovereign/model/x.gguf", model).bytes()],
        [signed("sovereign/model/x.gguf", model)], "is a file where a directory is needed")
    add("unneeded-directory", "a directory no signed file lives in (inode bombs, stray trees)",
        [with_ok().directory("sovereign/stray/").bytes()],
        ok_signed, "no signed file is under it")

    # --- Malformed names -----------------------------------------------
    add("non-utf8-name", "raw 0xff 0xfe bytes in a ustar name",
        [with_ok(tarfile.GNU_FORMAT).file("sovereign/\udcff\udcfe.bin", b"x").bytes()],
        ok_signed, "non-ASCII byte")
    add("non-utf8-pax-binary", "pax hdrcharset=BINARY carrying an invalid UTF-8 path",
        [with_ok(tarfile.PAX_FORMAT).file("sovereign/\udcc0\udcaf.bin", b"x").bytes()],
        ok_signed, "non-ASCII byte")
    add("dot-name", "a file named '.' (the root itself)",
        [with_ok().file(".", b"pwned\n").bytes()], ok_signed, "'.'")
    add("dot-component", "sovereign/./ok.txt: a second spelling of a signed path",
        [Layer().directory("sovereign/").file("sovereign/./ok.txt", ok).bytes()],
        ok_signed, "has a '.' component")
    add("empty-name", "an entry with an empty name",
        [with_ok().file("", b"pwned\n").bytes()], ok_signed, "empty")
    add("empty-component", "sovereign//ok.txt: a second spelling of a signed path",
        [Layer().directory("sovereign/").file("sovereign//ok.txt", ok).bytes()],
        ok_signed, "has an empty component")
    # Control characters are hostile even though the file system accepts
    # them: ESC sequences rewrite the operator's terminal when the name is
    # printed, and a newline forges extra lines in logs and audit output.
    add("control-character-name", "ESC and newline in a name: terminal and log injection",
        [with_ok().file("sovereign/ok\x1b[2K\nsovereign: all files verified.txt", b"x").bytes()],
        ok_signed, "control character")

    # --- Broken archives -------------------------------------------------
    whole = with_ok().file("sovereign/model.gguf", model).bytes()
    cut = whole.index(model[:64]) + 300
    add("truncated-data", "an archive cut in the middle of a signed file's bytes",
        [whole[:cut]], ok_signed + [signed("sovereign/model.gguf", model)], "truncated")
    add("truncated-header", "an archive cut in the middle of a header block",
        [with_ok().bytes()[:512 + 200]], ok_signed, "truncated")
    corrupt = bytearray(with_ok().file("sovereign/model.gguf", model).bytes())
    second = 512 * 3  # sovereign/, sovereign/ok.txt and its data block, then model.gguf's header
    corrupt[second + 148:second + 156] = b"0000000\0"
    add("bad-checksum", "a later header whose checksum does not match (skipping it would hide an entry)",
        [bytes(corrupt)], ok_signed + [signed("sovereign/model.gguf", model)], "libarchive: Damaged tar archive")
    add("not-a-tar", "bytes that are no tar at all",
        [b"\x1f\x8b\x08\x00" + bytes(2044)], ok_signed, "libarchive: Unrecognized archive format")

    # --- Controls: well-formed archives that must extract ----------------
    tool_signed = signed("sovereign/bin/tool", tool)
    add("control-gnu-dot-slash", "GNU format with ./ prefixes, ./ root entry stripped away",
        [Layer(tarfile.GNU_FORMAT).directory("./sovereign/").directory("./sovereign/bin/")
         .file("./sovereign/bin/tool", tool, mode=0o755).file("./sovereign/ok.txt", ok)
         .file("./sovereign/" + "long-" * 30 + ".txt", ok).bytes()],
        [tool_signed, signed("sovereign/ok.txt", ok), signed("sovereign/" + "long-" * 30 + ".txt", ok)], None)
    add("control-pax-long-path", "pax format with a path longer than ustar holds (within the depth cap)",
        [Layer(tarfile.PAX_FORMAT).directory("sovereign/")
         .file("sovereign/" + "deep-directory-name/" * 12 + "x.bin", model).bytes()],
        [signed("sovereign/" + "deep-directory-name/" * 12 + "x.bin", model)], None)
    add("control-two-layers", "two layers sharing directories, no directory entries for some",
        [Layer().directory("sovereign/").directory("sovereign/model/")
         .file("sovereign/model/m.gguf", model).bytes(),
         Layer().directory("sovereign/").file("sovereign/model/readme.txt", ok)
         .file("sovereign/runtime/bin/tool", tool, mode=0o700).bytes()],
        [signed("sovereign/model/m.gguf", model), signed("sovereign/model/readme.txt", ok),
         signed("sovereign/runtime/bin/tool", tool)], None)

    with open(os.path.join(outdir, "cases.json"), "w") as out:
        json.dump({"cases": cases, "controls": controls,
                   "mustNotExist": [absolute_target]}, out, indent=1, ensure_ascii=True)
        out.write("\n")
    print(f"{len(cases)} hostile cases, {len(controls)} controls in {outdir}")


if __name__ == "__main__":
    main()
