# SPDX-License-Identifier: MIT
# A read-only Python reader of framepipe's shared-memory frame ring (docs/shm-ring.md): frames as numpy views, no copies.
"""Read frames from a framepipe ring (FpRing) in another process.

Needs only the Python standard library and numpy (Debian: /usr/bin/python3 +
python3-numpy). The segment is mapped read-only; every frame is a numpy view
into the mapping, never a copy. This client implements the *latest* reader
mode only: it never holds the writer back (lossless mode needs a writable
reader-table entry; use the C library for that).

    from fp_ring import RingReader
    with RingReader("/cam0") as ring:
        frame = ring.read(timeout=1.0)          # None on timeout
        img = frame.image                        # e.g. (h, w, 3) uint8 view
        ...use img...
        if not ring.still_valid(frame):          # the writer lapped us meanwhile
            ...discard what was computed from img...

The memory-ordering argument is x86-64's (loads are not reordered with
loads); the seqlock check in still_valid() is what makes a read trustworthy.
"""
import ctypes
import mmap
import os
import struct
import time

import numpy as np

MAGIC = b"FPRING\0\0"
VERSION = 1
PAGE = 4096
STATE_LIVE, STATE_CLOSED, STATE_SUPERSEDED = 1, 2, 3
PIX_NONE, PIX_YUV420P, PIX_NV12, PIX_RGB24, PIX_BGR24, PIX_GRAY8 = range(6)
FORMAT_NAMES = {PIX_NONE: "none", PIX_YUV420P: "yuv420p", PIX_NV12: "nv12",
                PIX_RGB24: "rgb24", PIX_BGR24: "bgr24", PIX_GRAY8: "gray8"}

_SYS_FUTEX = {"x86_64": 202, "aarch64": 98}.get(os.uname().machine, 202)
_FUTEX_WAIT = 0  # shared futex: not FUTEX_PRIVATE_FLAG
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class RingError(Exception):
    """A segment that cannot be read (missing, not a ring, wrong version, truncated)."""


class GenerationChanged(Exception):
    """The writer restarted; the reader re-mapped the new segment. Raised once; read again."""


class EndOfStream(Exception):
    """The writer closed the ring."""


class Frame:
    """One frame: seq, pts_ns, user, skipped, size, slot, and image (a numpy view)."""

    __slots__ = ("seq", "pts_ns", "user", "commit_ns", "skipped", "size", "slot", "image",
                 "planes", "generation")

    def __repr__(self):
        return (f"Frame(seq={self.seq}, pts_ns={self.pts_ns}, skipped={self.skipped}, "
                f"size={self.size}, shape={getattr(self.image, 'shape', None)})")


class RingReader:
    """A latest-mode reader of the ring `name` ("/cam0" or "cam0")."""

    def __init__(self, name):
        self.name = "/" + name.lstrip("/")
        self.last_seq = None
        self.generations = 0
        self.skipped = 0
        self._map()

    # -- mapping ----------------------------------------------------------
    def _map(self):
        path = "/dev/shm" + self.name
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise RingError(f"segment {self.name}: no such ring (is the writer running?)") from None
        except PermissionError:
            raise RingError(f"segment {self.name}: permission denied") from None
        try:
            size = os.fstat(fd).st_size
            if size < PAGE:
                raise RingError(f"segment {self.name}: {size} bytes, smaller than the {PAGE}-byte header")
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)
        h = mm[:PAGE]
        if h[0:8] != MAGIC:
            mm.close()
            raise RingError(f"segment {self.name}: wrong magic (not a framepipe ring)")
        (version, header_size, generation, state, slot_count, slot_size, slot_stride,
         control_off, desc_off, slots_off, total) = struct.unpack_from("<IIQIIQQQQQQ", h, 8)
        if version != VERSION:
            mm.close()
            raise RingError(f"segment {self.name}: layout version {version}, this client reads {VERSION}")
        if total > size:
            mm.close()
            raise RingError(f"segment {self.name}: {size} bytes, but its header describes {total}")
        if not (1 <= slot_count <= 4096) or slot_stride < slot_size or \
                slots_off + slot_count * slot_stride != total or desc_off != 2 * PAGE:
            mm.close()
            raise RingError(f"segment {self.name}: inconsistent header")
        width, height, fmt, plane_count = struct.unpack_from("<IIII", h, 80)
        linesize = struct.unpack_from("<4I", h, 96)
        plane_offset = struct.unpack_from("<4Q", h, 112)
        (frame_size,) = struct.unpack_from("<Q", h, 144)
        if frame_size > slot_size:
            mm.close()
            raise RingError(f"segment {self.name}: slot size {slot_size} is smaller than a frame")
        self._mm = mm
        self.buf = np.frombuffer(mm, dtype=np.uint8)  # read-only view of the whole segment
        self.generation = generation
        self.slot_count, self.slot_size, self.slot_stride = slot_count, slot_size, slot_stride
        self.slots_off = slots_off
        self.width, self.height, self.format = width, height, fmt
        self.plane_count, self.linesize, self.plane_offset = plane_count, linesize, plane_offset
        self.frame_size = frame_size
        # live words, re-read on every access (no copies)
        self._state = self.buf[24:28].view(np.uint32)
        self._write_seq = self.buf[192:200].view(np.uint64)
        self._notify = self.buf[200:204].view(np.uint32)
        desc = self.buf[desc_off:desc_off + slot_count * 64].view(np.uint64).reshape(slot_count, 8)
        self._desc = desc  # columns: seq, size, pts, user, commit_ns, reserved...
        self._notify_addr = self._notify.ctypes.data
        w = int(self._write_seq[0])
        self.last_seq = w - 1 if w > 0 else 0  # the first read returns the newest frame

    def close(self):
        self._state = self._write_seq = self._notify = self._desc = self.buf = None
        if getattr(self, "_mm", None) is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # frames handed out still reference the mapping; it goes with them
            self._mm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ----------------------------------------------------------
    def _futex_wait(self, expected, timeout):
        ts = None
        if timeout is not None:
            timeout = max(timeout, 0.0)
            ts = _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
        # every argument as a full machine word: syscall(2) reads them as longs
        _libc.syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(self._notify_addr),
                      ctypes.c_long(_FUTEX_WAIT), ctypes.c_long(expected),
                      ctypes.byref(ts) if ts is not None else ctypes.c_void_p(None),
                      ctypes.c_void_p(None), ctypes.c_long(0))

    def _view(self, slot):
        base = self.slots_off + slot * self.slot_stride
        planes = []
        shapes = {
            PIX_RGB24: [((self.height, self.width, 3), 3)],
            PIX_BGR24: [((self.height, self.width, 3), 3)],
            PIX_GRAY8: [((self.height, self.width), 1)],
            PIX_NV12: [((self.height, self.width), 1),
                       (((self.height + 1) // 2, (self.width + 1) // 2, 2), 2)],
            PIX_YUV420P: [((self.height, self.width), 1),
                          (((self.height + 1) // 2, (self.width + 1) // 2), 1),
                          (((self.height + 1) // 2, (self.width + 1) // 2), 1)],
        }.get(self.format)
        if shapes is None:
            return self.buf[base:base + self.slot_size], []
        for i, (shape, px) in enumerate(shapes):
            off = base + self.plane_offset[i]
            rows = shape[0]
            span = self.linesize[i] * (rows - 1) + shape[1] * px
            strides = (self.linesize[i], px, 1)[:len(shape)]
            planes.append(np.lib.stride_tricks.as_strided(
                self.buf[off:off + span], shape=shape, strides=strides, writeable=False))
        return (planes[0] if len(planes) == 1 else None), planes

    def read(self, timeout=None):
        """The newest frame not read yet, waiting up to `timeout` seconds (None: forever).

        Returns a Frame, or None on timeout. Raises EndOfStream when the writer
        closed the ring, GenerationChanged (once) when it restarted."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = int(self._state[0])
            if state == STATE_SUPERSEDED:
                old = self.generation
                self.close()
                self._map()
                self.generations += 1
                raise GenerationChanged(f"ring {self.name}: writer restarted "
                                        f"(generation {old} -> {self.generation})")
            nv = int(self._notify[0])
            w = int(self._write_seq[0])
            if w > self.last_seq:
                slot = (w - 1) % self.slot_count
                if int(self._desc[slot, 0]) != 2 * w:
                    continue  # the writer moved on meanwhile: take the newer one
                f = Frame()
                f.seq, f.slot, f.generation = w, slot, self.generation
                f.size = min(int(self._desc[slot, 1]), self.slot_size)
                f.pts_ns = int(self._desc[slot, 2].view(np.int64))
                f.user = int(self._desc[slot, 3])
                f.commit_ns = int(self._desc[slot, 4].view(np.int64))
                f.skipped = w - self.last_seq - 1
                f.image, f.planes = self._view(slot)
                self.skipped += f.skipped
                self.last_seq = w
                return f
            if state == STATE_CLOSED:
                raise EndOfStream(f"ring {self.name}: the writer closed the ring")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._futex_wait(nv, remaining)

    def still_valid(self, frame):
        """True if the writer has not touched the frame's slot since read() (the seqlock check)."""
        return frame.generation == self.generation and \
            int(self._desc[frame.slot, 0]) == 2 * frame.seq
