#!/usr/bin/env python3
"""Writes a corpus of hostile tar layers for Sovereign's safe extractor.

Usage: make_hostile_tars.py OUTDIR

The archives are written with Python's `tarfile` (a tar writer that is not
ours, so the corpus does not share our writer's assumptions), plus a few
byte-level edits where tarfile refuses to write something hostile (a size
header over a short body, a cut archive, a metadata header claiming 10 TiB,
a broken checksum).

A Sovereign layer must be in one strict tar profile, the one our writer
(libarchive's pax-restricted format) produces, so that every tar reader
reads it alike (SovereignArchive/Profile/TarProfile.swift). tarfile's
plain ustar headers are in it; its pax headers are not (it names them
`././@PaxHeader` and cuts a long ustar name at 100 bytes, inside a
directory name, where our writer keeps whole leading directories and the
start of the file name). `ProfileLayer` below is a second, independent
writer of the profile, byte for byte as libarchive writes it, for cases
that must be in the profile except for the one hostile thing they test
(an extended attribute, a pax path with a NUL, a 10 TiB size claimed in
the profile's own form), and for the control with a pax long path.

OUTDIR/cases.json lists every case:

    {"cases": [{"name", "why", "layers": [file, ...],
                "signed": [{"path", "size", "sha256"}, ...],
                "expect": "substring of the error"}, ...],
     "controls": [{"name", "why", "layers", "signed"}, ...],
     "mustNotExist": [absolute paths no case may create]}

`signed` is the file list to give the extractor (what a signed
sovereign/image.json would list). Every case must be refused with an
error containing `expect`, either while extracting a layer or at finish().
Controls are well-formed archives from the same writers that must extract:
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
    """Builds one tar in memory with tarfile, entry by entry (pax_headers:
    a pax global header at the start)."""

    def __init__(self, fmt=tarfile.PAX_FORMAT, pax_headers=None):
        self.buffer = io.BytesIO()
        # surrogateescape lets a str carry raw non-UTF-8 bytes into the name.
        self.tar = tarfile.open(fileobj=self.buffer, mode="w", format=fmt, pax_headers=pax_headers,
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


# --- The layer profile, written independently of libarchive -------------

def ustar_split(path):
    """Where libarchive's ustar formatter splits a name over 100 bytes into
    prefix and name: the first '/' from 101 bytes before the end (never
    byte 0); None if the name cannot be split."""
    start = len(path) - 101
    if start < 0:
        return None
    split = path.find(b"/", start)
    if split == 0:
        split = path.find(b"/", 1)
    if split == -1 or split == len(path) - 1 or split > 155:
        return None
    return split


def needs_pax_path(path):
    return any(b >= 0x80 for b in path) or (len(path) > 100 and ustar_split(path) is None)


def build_ustar_entry_name(src, insert=None):
    """libarchive's build_ustar_entry_name (archive_write_set_format_pax.c,
    3.6's lengths; later versions cut a byte shorter). The profile accepts
    any shortened name of this shape: leading whole directories, then the
    start of the last component."""
    suffix_length = 99
    insert_length = 0 if insert is None else len(insert) + 2
    if len(src) < 100 and insert is None:
        return src
    filename_end = len(src)
    need_slash = False
    while True:
        if filename_end > 0 and src[filename_end - 1:filename_end] == b"/":
            filename_end -= 1
            need_slash = True
            continue
        if filename_end > 1 and src[filename_end - 2:filename_end] == b"/.":
            filename_end -= 2
            need_slash = True
            continue
        break
    if need_slash:
        suffix_length -= 1
    filename = filename_end - 1
    while filename > 0 and src[filename:filename + 1] != b"/":
        filename -= 1
    if src[filename:filename + 1] == b"/" and filename < filename_end - 1:
        filename += 1
    suffix_length -= insert_length
    if filename_end > filename + suffix_length:
        filename_end = filename + suffix_length
    suffix_length -= filename_end - filename
    prefix_end = min(155, filename)
    while prefix_end > 0 and src[prefix_end:prefix_end + 1] != b"/":
        prefix_end -= 1
    if prefix_end < filename and src[prefix_end:prefix_end + 1] == b"/":
        prefix_end += 1
    suffix = prefix_end
    suffix_end = max(min(suffix + suffix_length, filename), suffix)
    while suffix_end > suffix and src[suffix_end:suffix_end + 1] != b"/":
        suffix_end -= 1
    if suffix_end < filename and src[suffix_end:suffix_end + 1] == b"/":
        suffix_end += 1
    out = src[:prefix_end] + src[suffix:suffix_end]
    if insert is not None:
        out += insert + b"/"
    out += src[filename:filename_end]
    if need_slash:
        out += b"/"
    return out


def pax_header_name(name):
    """libarchive's build_pax_attribute_name: <dir>/PaxHeader/<file>."""
    end = len(name)
    while True:
        if end > 0 and name[end - 1:end] == b"/":
            end -= 1
            continue
        if end > 1 and name[end - 2:end] == b"/.":
            end -= 1
            continue
        break
    return build_ustar_entry_name(name[:end], b"PaxHeader")


def profile_header(name, typeflag, size, mode, mtime=MTIME):
    """One header block as libarchive's pax-restricted writer formats it."""
    block = bytearray(512)
    if len(name) <= 100:
        block[0:len(name)] = name
    else:
        split = ustar_split(name)
        assert split is not None, name
        block[345:345 + split] = name[:split]
        block[0:len(name) - split - 1] = name[split + 1:]
    block[100:108] = b"%06o \0" % mode
    block[108:116] = b"000000 \0"
    block[116:124] = b"000000 \0"
    if size < 8 ** 11:
        block[124:136] = b"%011o " % size
    elif size < 8 ** 12:
        block[124:136] = b"%012o" % size
    else:
        block[124:136] = b"\x80" + size.to_bytes(11, "big")
    block[136:148] = b"%011o " % mtime
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[329:337] = b"000000 \0"
    block[337:345] = b"000000 \0"
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def pax_record(key, value):
    payload = b" " + key + b"=" + value + b"\n"
    length = len(payload) + 1
    while len(str(length)) + len(payload) != length:
        length = len(str(length)) + len(payload)
    return str(length).encode() + payload


def padded(data):
    return data + bytes(-len(data) % 512)


class ProfileLayer:
    """A layer in the profile, entry by entry, as our writer makes it;
    each entry can carry extra pax records or a chosen ustar name, and
    raw blocks can be spliced in, so a case departs in one thing only."""

    def __init__(self):
        self.out = b""

    def entry(self, path, typeflag, data=b"", mode=0o644, records=(), ustar_name=None, size=None):
        """`records` are (key, value) byte pairs added after the writer's
        own (`path` when the name needs it, `size` from 8 GiB); `size`
        overrides the header's size (the data written stays `data`)."""
        size = len(data) if size is None else size
        own = []
        if needs_pax_path(path):
            own.append((b"path", path))
            stored = build_ustar_entry_name(path)
        else:
            stored = path
        if size >= 1 << 33:
            own.append((b"size", str(size).encode()))
        if ustar_name is not None:
            stored = ustar_name
        body = b"".join(pax_record(k, v) for k, v in own + list(records))
        if body:
            self.out += profile_header(pax_header_name(stored), b"x", len(body), mode & 0o777) + padded(body)
        self.out += profile_header(stored, typeflag, size, mode)
        self.out += padded(data) if size == len(data) else data
        return self

    def file(self, path, data, mode=0o644, **extra):
        return self.entry(path.encode() if isinstance(path, str) else path, b"0", data, mode, **extra)

    def directory(self, path):
        return self.entry(path.encode().rstrip(b"/") + b"/", b"5", mode=0o755)

    def raw(self, data):
        self.out += data
        return self

    def bytes(self):
        return self.out + bytes(1024)

    def unfinished(self):
        """The bytes without the end-of-archive blocks (a cut layer)."""
        return self.out


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
    tool = tool_bytes = b"#!/bin/sh\necho hi\n"

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
    add("pax-path-dotdot", "a pax 'path' record renames a harmless ustar name to ../ "
        "(readers that ignore pax records extract the ustar name)",
        [with_ok().file("sovereign/renamed.txt", b"pwned\n",
                        pax_headers={"path": "../outside/victim.txt"}).bytes()],
        ok_signed + [signed("sovereign/renamed.txt", b"pwned\n")], "that disagree")
    add("pax-path-absolute", "a pax 'path' record renames a harmless name to an absolute path",
        [with_ok().file("sovereign/renamed.txt", b"pwned\n",
                        pax_headers={"path": absolute_target + "/pax"}).bytes()],
        ok_signed + [signed("sovereign/renamed.txt", b"pwned\n")], "that disagree")
    long_escape = "sovereign/" + "x" * 120 + "/../../../outside/new.txt"
    add("pax-long-path-dotdot", "a long name (pax 'path', in the profile) hiding ../",
        [ProfileLayer().directory("sovereign/").file("sovereign/ok.txt", ok)
         .file(long_escape, b"pwned\n").bytes()],
        ok_signed, "has a '..' component")
    add("ustar-name-escape-under-pax-path", "ustar name ../../escape.txt overridden by a pax 'path' "
        "to a signed file: readers that ignore pax records write the escape",
        [ProfileLayer().directory("sovereign/")
         .file("sovereign/ok.txt", ok, records=[(b"path", b"sovereign/ok.txt")],
               ustar_name=b"../../escape.txt").bytes()],
        ok_signed, "that disagree")
    add("pax-path-nul", "a pax 'path' with a NUL: libarchive stops at it, tarfile keeps the rest",
        [ProfileLayer().directory("sovereign/")
         .file("sovereign/ok.txt", ok, records=[(b"path", b"sovereign/ok.txt\0../../escape.txt")]).bytes()],
        ok_signed, "with a NUL byte")
    add("gnu-longname-dotdot", "a GNU ././@LongLink name (typeflag L, over 100 bytes) hiding ../",
        [ProfileLayer().directory("sovereign/").file("sovereign/ok.txt", ok)
         .raw(profile_header(b"././@LongLink", b"L", len(long_escape) + 1, 0o644)
              + padded(long_escape.encode() + b"\0"))
         .file(b"sovereign/" + b"x" * 90, b"pwned\n").bytes()],
        ok_signed, "is a GNU long-name header")
    add("gnu-format", "a layer in GNU tar's format (magic 'ustar  '): read differently by different readers",
        [with_ok(tarfile.GNU_FORMAT).bytes()], ok_signed, "not POSIX ustar's")
    # pax global headers: libarchive applies a global 'path' to nothing we
    # extract, GNU tar -t lists it for the next entry and -xP writes it.
    add("pax-global-path-escape", "a pax global header (g) with path=../../escape.txt before a signed file",
        [Layer(pax_headers={"path": "../../escape.txt"}).directory("sovereign/")
         .file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "is a pax global header")
    rules = b'{"rules": []}\n'
    add("pax-global-path-rules", "a pax global header renaming the next entry to the rules an auditor reads",
        [Layer(pax_headers={"path": "sovereign/policies/reference/rules.json"}).directory("sovereign/")
         .file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "is a pax global header")
    # struct vfs_cap_data (revision 2) granting CAP_SETUID (bit 7), permitted and effective.
    capability = (0x02000001).to_bytes(4, "little") + (1 << 7).to_bytes(4, "little") + bytes(12)
    add("xattr-capability", "SCHILY.xattr.security.capability = cap_setuid on a 0755 file "
        "(setuid's power without its mode bit)",
        [ProfileLayer().directory("sovereign/")
         .file("sovereign/tool", tool_bytes, mode=0o755,
               records=[(b"SCHILY.xattr.security.capability", capability)]).bytes()],
        [signed("sovereign/tool", tool_bytes)], "SCHILY.xattr.security.capability")
    add("gnu-volume-header", "a GNU volume header (typeflag V) before the entries",
        [ProfileLayer().raw(profile_header(b"sovereign", b"V", 0, 0o644)).directory("sovereign/")
         .file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "is a GNU volume header")
    add("gnu-old-longnames", "a GNU 'N' header (old long names: renames entries after it)",
        [ProfileLayer().directory("sovereign/")
         .raw(profile_header(b"sovereign/names", b"N", 0, 0o644))
         .file("sovereign/ok.txt", ok).bytes()],
        ok_signed, "is a GNU old long-name header")
    add("gnu-sparse-no-map", "a GNU sparse file (typeflag S) with no sparse map",
        [ProfileLayer().directory("sovereign/")
         .raw(profile_header(b"sovereign/ok.txt", b"S", len(ok), 0o644) + padded(ok)).bytes()],
        ok_signed, "is a GNU sparse file")
    add("lone-zero-block", "one zero block, then more entries: libarchive stops, tar -i reads on",
        [ProfileLayer().directory("sovereign/").file("sovereign/ok.txt", ok).raw(bytes(512))
         .file("sovereign/hidden.txt", b"hidden\n").bytes()],
        ok_signed, "single zero block")

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
        ok_signed + [signed("sovereign/sparse.bin", b"data" + bytes(1048576 - 4))], "pax record 'GNU.sparse.")

    # --- Mode bits -----------------------------------------------------
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
    # header, not read (or allocate, or write) towards 10 TiB. In the
    # profile's own form (base-256 size and a pax 'size', as our writer
    # writes sizes from 64 GiB), so only the size check can refuse it.
    bomb = ProfileLayer().entry(b"sovereign/model.gguf", b"0", model[:512], size=TEN_TIB).unfinished()
    add("huge-size-pax", "pax 'size' record claims 10 TiB on a short archive (tar bomb)",
        [bomb], ok_signed + [signed("sovereign/model.gguf", model)],
        f"is {TEN_TIB} bytes in the archive, the signed image lists {len(model)}")
    # tarfile's form: the ustar size field 0, the real size only in pax.
    add("pax-size-disagrees", "tarfile's pax 'size' of 10 TiB over a ustar size of 0: "
        "a reader that ignores pax records reads the data as headers",
        [header("sovereign/model.gguf", TEN_TIB, tarfile.PAX_FORMAT) + model[:512]],
        ok_signed + [signed("sovereign/model.gguf", model)], f"has a pax 'size' of {TEN_TIB} bytes but a header size of 0")
    add("huge-size-base256-no-pax", "a base-256 size field claims 10 TiB with no pax 'size' record",
        [raw_block(b"sovereign/model.gguf", b"0", TEN_TIB) + model[:512]],
        ok_signed + [signed("sovereign/model.gguf", model)], "with no pax 'size' record")
    add("huge-size-signed-truncated", "a signed huge file whose archive stops early",
        [bomb], [signed("sovereign/model.gguf", model, size=TEN_TIB)], "truncated")
    # The same claim on a metadata entry, which a reader must hold in
    # memory whole: the profile caps pax headers at 64 KiB, checked at
    # the header (libarchive's own cap is 1 MiB).
    add("pax-header-bomb", "a pax extended header claiming 10 TiB (read into memory by readers)",
        [raw_block(b"sovereign/PaxHeader/model.gguf", b"x", TEN_TIB)
         + b"30 path=sovereign/model.gguf\n".ljust(1024, b"\0")],
        ok_signed, "more than the 65536 allowed")
    add("gnu-longname-bomb", "a GNU ././@LongLink name claiming 10 TiB",
        [raw_block(b"././@LongLink", b"L", TEN_TIB) + b"sovereign/model.gguf".ljust(1024, b"\0")],
        ok_signed, "is a GNU long-name header")
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
        [with_ok(tarfile.USTAR_FORMAT).file("sovereign/\udcff\udcfe.bin", b"x").bytes()],
        ok_signed, "non-ASCII byte")
    add("non-utf8-pax-binary", "pax hdrcharset=BINARY carrying an invalid UTF-8 path",
        [with_ok(tarfile.PAX_FORMAT).file("sovereign/\udcc0\udcaf.bin", b"x").bytes()],
        ok_signed, "pax record 'hdrcharset'")
    add("non-utf8-pax-path", "a pax 'path' that is not UTF-8 (no hdrcharset): readers decode it differently",
        [ProfileLayer().directory("sovereign/")
         .file(b"sovereign/\xc0\xaf.bin", b"x").bytes()],
        ok_signed, "is not valid UTF-8")
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
        [bytes(corrupt)], ok_signed + [signed("sovereign/model.gguf", model)], "has a damaged header at byte 1536")
    add("not-a-tar", "bytes that are no tar at all",
        [b"\x1f\x8b\x08\x00" + bytes(2044)], ok_signed, "is not a tar archive")

    # --- Controls: well-formed archives that must extract ----------------
    tool_signed = signed("sovereign/bin/tool", tool)
    split_name = "sovereign/" + "long-directory-name/" * 6 + "file.txt"
    add("control-ustar-dot-slash", "tarfile's ustar format with ./ prefixes and a name split into "
        "prefix and name fields",
        [Layer(tarfile.USTAR_FORMAT).directory("./sovereign/").directory("./sovereign/bin/")
         .file("./sovereign/bin/tool", tool, mode=0o755).file("./sovereign/ok.txt", ok)
         .file("./" + split_name, ok).bytes()],
        [tool_signed, signed("sovereign/ok.txt", ok), signed(split_name, ok)], None)
    long_path = "sovereign/" + "deep-directory-name/" * 12 + "x.bin"
    add("control-pax-long-path", "a path longer than ustar holds, in a pax 'path' with the writer's "
        "truncated ustar name (this script's own writer of the profile)",
        [ProfileLayer().directory("sovereign/").file(long_path, model).bytes()],
        [signed(long_path, model)], None)
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
