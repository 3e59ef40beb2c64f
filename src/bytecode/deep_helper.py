# pyvet deep-check helper: run by a trusted CPython as
#   pythonX.Y -I -S -B -c <this program>
# It reads records from stdin and, for each, says whether the marshalled code
# in a pyc equals the compilation of its source by this interpreter.
#
# Protocol (all integers little-endian):
#   out: one line "pyvet-deep 1 <major> <minor> <magic hex>"
#   in:  records: u32 id, u8 optimize, then three u32-length-prefixed blobs:
#        co_filename (UTF-8, surrogates allowed), source bytes, pyc payload
#   out: per record one line "<id>\t<same|differs|error>\t<detail>"
# Code objects are compared field by field, recursively through co_consts,
# with constants compared by exact type and bit pattern; marshal's reference
# flags do not take part, because objects are compared after loading.
import marshal
import struct
import sys
import warnings

try:
    from importlib.util import MAGIC_NUMBER
except ImportError:
    MAGIC_NUMBER = b""

CodeType = type(compile("", "", "exec"))
FIELDS = (
    "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals",
    "co_stacksize", "co_flags", "co_code", "co_names", "co_varnames",
    "co_freevars", "co_cellvars", "co_filename", "co_name", "co_qualname",
    "co_firstlineno", "co_linetable", "co_exceptiontable",
)


def fields(code):
    names = [f for f in FIELDS if hasattr(code, f)]
    if not hasattr(code, "co_linetable"):
        names.append("co_lnotab")
    return names


def diff(a, b, where):
    """Where a and b first differ, or None when they are identical."""
    if type(a) is not type(b):
        return "%s: %s != %s" % (where, type(a).__name__, type(b).__name__)
    if type(a) is CodeType:
        for f in fields(a):
            d = diff(getattr(a, f), getattr(b, f), where + "." + f)
            if d:
                return d
        return diff(a.co_consts, b.co_consts, where + ".co_consts")
    if type(a) is tuple:
        if len(a) != len(b):
            return "%s: %d items != %d" % (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if type(a) is frozenset:
        return None if set(map(key, a)) == set(map(key, b)) else where + ": frozensets differ"
    return None if key(a) == key(b) else "%s: %.60r != %.60r" % (where, a, b)


def key(x):
    """A hashable value equal only for constants CPython would not merge."""
    t = type(x)
    if t is float:
        return (t, struct.pack("<d", x))
    if t is complex:
        return (t, struct.pack("<dd", x.real, x.imag))
    if t is tuple:
        return (t, tuple(map(key, x)))
    if t is frozenset:
        return (t, frozenset(map(key, x)))
    if t is slice:
        return (t, key(x.start), key(x.stop), key(x.step))
    if t is CodeType:
        return (t, id(x))
    return (t, x)


def read_exact(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def read_blob(stream):
    (n,) = struct.unpack("<I", read_exact(stream, 4))
    return read_exact(stream, n)


def check(optimize, filename, source, payload):
    loaded = marshal.loads(payload)
    compiled = compile(source, filename, "exec", dont_inherit=True, optimize=optimize)
    return diff(loaded, compiled, "module")


def main():
    warnings.simplefilter("ignore")
    inp, out = sys.stdin.buffer, sys.stdout.buffer

    def say(line):
        # Bytes, whatever the locale's encoding: details may hold any text.
        out.write((line + "\n").encode("utf-8", "backslashreplace"))
        out.flush()

    say("pyvet-deep 1 %d %d %s" % (sys.version_info[0], sys.version_info[1], MAGIC_NUMBER.hex()))
    while True:
        head = inp.read(5)
        if not head:
            return
        if len(head) != 5:
            raise EOFError
        ident, optimize = struct.unpack("<IB", head)
        filename = read_blob(inp).decode("utf-8", "surrogatepass")
        source, payload = read_blob(inp), read_blob(inp)
        try:
            d = check(optimize, filename, source, payload)
            status, detail = ("differs", d) if d else ("same", "")
        except BaseException as e:
            status, detail = "error", "%s: %s" % (type(e).__name__, e)
        detail = detail.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        say("%d\t%s\t%s" % (ident, status, detail))


main()
