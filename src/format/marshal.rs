//! marshal streams: the serialised code object that makes up a pyc's body.
//!
//! pyvet reads the top-level code object of a module to learn the file name
//! it was compiled as (`co_filename`, evidence of where the pyc was made)
//! and whether the module has a docstring (an `opt-2` pyc must not). The
//! reader accepts every object type CPython 2.7 and 3.6–3.14 can emit, including
//! back-references (`FLAG_REF`/`TYPE_REF`), and rejects what CPython's
//! `marshal.loads` rejects: truncation, unknown type codes, invalid
//! references, malformed longs and strings, and code objects whose fields
//! have the wrong type. It is bounded: nesting is capped at
//! [`MARSHAL_MAX_DEPTH`], objects at [`MARSHAL_MAX_OBJECTS`], and no length
//! from the input is allocated before it is checked against the bytes left.

use crate::limits::{MARSHAL_MAX_DEPTH, MARSHAL_MAX_OBJECTS};

/// `FLAG_REF`: the object is appended to the back-reference table.
const FLAG_REF: u8 = 0x80;
/// Largest size CPython accepts for any length field (`SIZE32_MAX`).
const SIZE32_MAX: i64 = 0x7FFF_FFFF;
/// marshal stores longs in 15-bit digits.
const LONG_DIGIT_MAX: u16 = 0x7FFF;
/// Types marshal version 2 (Python 2.7) does not have.
const PY3_ONLY_TYPES: &[u8] = b"aAzZ)r:";
/// First version whose marshal has slices (`:`, marshal version 5).
const SLICE_SINCE: (u8, u8) = (3, 14);
/// Bytes of one bytecode unit (opcode, oparg) since 3.6.
const CODE_UNIT: usize = 2;
/// How many code units the docstring check looks at before giving up.
const DOCSTRING_SCAN_UNITS: usize = 64;
/// The name a module docstring is stored under.
const DOC_NAME: &[u8] = b"__doc__";

/// What pyvet needs from a module's top-level code object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFacts {
    /// `co_filename` for display (lone surrogates shown as U+FFFD).
    pub co_filename: String,
    /// `os.fsencode(co_filename)` on a UTF-8 POSIX host: the path bytes the
    /// name stands for (`None` if it holds surrogates no byte maps to).
    pub co_filename_bytes: Option<Vec<u8>>,
    /// `co_filename` as marshal stores it: UTF-8 that may encode surrogates.
    pub co_filename_raw: Vec<u8>,
    /// The module starts by binding `__doc__` to a string constant: a
    /// docstring, or (indistinguishable in bytecode) a first statement
    /// `__doc__ = "..."`, which unlike a docstring survives `-OO`.
    pub has_docstring: bool,
    /// Bytes after the code object (`marshal.loads` ignores them).
    pub trailing_bytes: usize,
}

/// Reads the top-level code object of a pyc payload (after the header) for
/// CPython `(major, minor)`.
pub fn read_code_facts(payload: &[u8], version: (u8, u8)) -> Result<CodeFacts, MarshalError> {
    let layout = CodeLayout::for_version(version)?;
    let mut r = Reader::new(payload, version);
    let top = r.object()?.ok_or(MarshalError::NullObject {
        context: "object",
        offset: 0,
    })?;
    let Node::Code(code) = r.node(top) else {
        return Err(MarshalError::NotCode {
            found: r.node(top).type_name(),
        });
    };
    let filename = r.str_of(code.filename).unwrap_or_default();
    let points = decode_surrogatepass(&filename).unwrap_or_default();
    let (display, fs_bytes) = if r.py2() {
        // Python 2 file names are bytes.
        (
            String::from_utf8_lossy(&filename).into_owned(),
            Some(filename.clone()),
        )
    } else {
        let shown = points
            .iter()
            .map(|&p| char::from_u32(p).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        (shown, fsencode(&points))
    };
    Ok(CodeFacts {
        co_filename: display,
        co_filename_bytes: fs_bytes,
        co_filename_raw: filename,
        has_docstring: r.has_docstring(code, layout.ops),
        trailing_bytes: payload.len() - r.pos,
    })
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarshalError {
    #[error("truncated at offset {offset}: {needed} bytes needed, {available} left")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("unknown type code {code:#04x} at offset {offset}")]
    UnknownType { code: u8, offset: usize },
    #[error("nesting deeper than {max} objects")]
    TooDeep { max: usize },
    #[error("more than {max} objects")]
    TooManyObjects { max: usize },
    #[error("{what} size {size} out of range at offset {offset}")]
    SizeOutOfRange {
        what: &'static str,
        size: i64,
        offset: usize,
    },
    #[error("invalid reference {index} at offset {offset} ({known} references known)")]
    InvalidReference {
        index: i64,
        offset: usize,
        known: usize,
    },
    #[error("NULL object in marshal data for {context} at offset {offset}")]
    NullObject {
        context: &'static str,
        offset: usize,
    },
    #[error("digit {digit:#x} out of range in long at offset {offset}")]
    LongDigit { digit: u16, offset: usize },
    #[error("unnormalized long (top digit 0) at offset {offset}")]
    UnnormalizedLong { offset: usize },
    #[error("string at offset {offset} is not UTF-8 (even allowing surrogates)")]
    InvalidUtf8 { offset: usize },
    #[error("float text {text:?} at offset {offset} is not a number")]
    BadFloat { text: String, offset: usize },
    #[error("top-level object is a {found}, not a code object")]
    NotCode { found: &'static str },
    #[error("code object field {field} is a {found}, expected {expected}")]
    CodeField {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("code object count {field} = {value} is invalid")]
    CodeCount { field: &'static str, value: i32 },
    #[error("code object has {kinds} local kinds for {names} local names")]
    LocalsPlusMismatch { names: usize, kinds: usize },
    #[error("code of {len} bytes is not whole 2-byte units")]
    OddCode { len: usize },
    #[error("no code object layout known for Python {major}.{minor}")]
    UnsupportedVersion { major: u8, minor: u8 },
}

type NodeId = usize;

/// A decoded object. Only what the facts need is kept; the rest is opaque.
enum Node<'a> {
    /// A container whose children are still being read.
    Pending,
    Bytes(&'a [u8]),
    /// Text: raw bytes as stored, and whether they are Latin-1 (`a`/`z` types)
    /// rather than UTF-8.
    Str {
        raw: &'a [u8],
        latin1: bool,
    },
    Tuple(Vec<NodeId>),
    /// Python 2's `str` (`s`, `t`, `R`): bytes that also serve as text.
    Py2Str(&'a [u8]),
    Code(Box<Code>),
    /// Anything else (None, numbers, lists, dicts, sets, slices…).
    Other(&'static str),
}

impl Node<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Node::Pending => "incomplete object",
            Node::Bytes(_) => "bytes",
            Node::Str { .. } => "str",
            Node::Tuple(_) => "tuple",
            Node::Py2Str(_) => "str",
            Node::Code(_) => "code",
            Node::Other(name) => name,
        }
    }
}

struct Code {
    code: NodeId,
    consts: NodeId,
    names: NodeId,
    filename: NodeId,
}

/// Opcodes the docstring check needs, per version (from each version's
/// `opcode.opmap`).
#[derive(Clone, Copy)]
struct DocOps {
    load_const: u8,
    store_name: u8,
    extended_arg: u8,
    /// Opcodes that may come before the docstring: `RESUME`, `MAKE_CELL`,
    /// `SETUP_ANNOTATIONS`, `NOP` and (3.11+) `CACHE`.
    prologue: &'static [u8],
}

/// Python 2.7: instructions are 1 byte, or 3 with an argument.
const OPS_27: DocOps = DocOps {
    load_const: 100,
    store_name: 90,
    extended_arg: 145,
    prologue: &[9],
};
/// Python 2.7's first opcode with an argument.
const PY2_HAVE_ARGUMENT: u8 = 90;
const OPS_36: DocOps = DocOps {
    load_const: 100,
    store_name: 90,
    extended_arg: 144,
    prologue: &[85, 9],
};
const OPS_311: DocOps = DocOps {
    prologue: &[151, 135, 85, 9, 0],
    ..OPS_36
};
const OPS_313: DocOps = DocOps {
    load_const: 83,
    store_name: 114,
    extended_arg: 71,
    prologue: &[149, 94, 37, 30, 0],
};

/// Which fields a version's code objects have, in stream order.
#[derive(Clone, Copy)]
struct CodeLayout {
    /// 32-bit counts before `co_code` (argcount … flags).
    counts: &'static [&'static str],
    /// Object fields between `co_names` and `co_filename`.
    locals: &'static [(&'static str, Want)],
    /// `co_qualname` (3.11+).
    qualname: bool,
    /// Object fields after `co_firstlineno`.
    tail: &'static [(&'static str, Want)],
    /// Opcodes for the docstring check; `None` where pyvet does not know them.
    ops: Option<DocOps>,
}

/// The type a code object field must have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Bytes,
    Str,
    Tuple,
    TupleOfStr,
}

impl Want {
    fn name(self) -> &'static str {
        match self {
            Want::Bytes => "bytes",
            Want::Str => "str",
            Want::Tuple => "tuple",
            Want::TupleOfStr => "tuple of str",
        }
    }
}

/// One item of a code object in the stream.
#[derive(Clone, Copy)]
enum Step {
    Count(&'static str),
    Field(&'static str, Want),
    FirstLineNo,
}

const VARS_36: &[(&str, Want)] = &[
    ("co_varnames", Want::TupleOfStr),
    ("co_freevars", Want::TupleOfStr),
    ("co_cellvars", Want::TupleOfStr),
];
const LOCALSPLUS: &[(&str, Want)] = &[
    ("co_localsplusnames", Want::TupleOfStr),
    ("co_localspluskinds", Want::Bytes),
];

impl CodeLayout {
    fn for_version((major, minor): (u8, u8)) -> Result<CodeLayout, MarshalError> {
        const C27: &[&str] = &["co_argcount", "co_nlocals", "co_stacksize", "co_flags"];
        const C36: &[&str] = &[
            "co_argcount",
            "co_kwonlyargcount",
            "co_nlocals",
            "co_stacksize",
            "co_flags",
        ];
        const C38: &[&str] = &[
            "co_argcount",
            "co_posonlyargcount",
            "co_kwonlyargcount",
            "co_nlocals",
            "co_stacksize",
            "co_flags",
        ];
        const C311: &[&str] = &[
            "co_argcount",
            "co_posonlyargcount",
            "co_kwonlyargcount",
            "co_stacksize",
            "co_flags",
        ];
        let old = |counts, ops| CodeLayout {
            counts,
            locals: VARS_36,
            qualname: false,
            tail: &[("co_lnotab", Want::Bytes)],
            ops: Some(ops),
        };
        let new = |ops| CodeLayout {
            counts: C311,
            locals: LOCALSPLUS,
            qualname: true,
            tail: &[
                ("co_linetable", Want::Bytes),
                ("co_exceptiontable", Want::Bytes),
            ],
            ops,
        };
        match (major, minor) {
            (2, 7) => Ok(old(C27, OPS_27)),
            (3, 6..=7) => Ok(old(C36, OPS_36)),
            (3, 8..=10) => Ok(old(C38, OPS_36)),
            (3, 11..=12) => Ok(new(Some(OPS_311))),
            (3, 13) => Ok(new(Some(OPS_313))),
            // 3.14 keeps 3.13's layout; its opcode numbers are not checked here.
            (3, 14) => Ok(new(None)),
            _ => Err(MarshalError::UnsupportedVersion { major, minor }),
        }
    }

    /// The code object's items in stream order.
    fn steps(self) -> Vec<Step> {
        let mut steps: Vec<Step> = self.counts.iter().map(|c| Step::Count(c)).collect();
        steps.push(Step::Field("co_code", Want::Bytes));
        steps.push(Step::Field("co_consts", Want::Tuple));
        steps.push(Step::Field("co_names", Want::TupleOfStr));
        steps.extend(self.locals.iter().map(|(f, w)| Step::Field(f, *w)));
        steps.push(Step::Field("co_filename", Want::Str));
        steps.push(Step::Field("co_name", Want::Str));
        if self.qualname {
            steps.push(Step::Field("co_qualname", Want::Str));
        }
        steps.push(Step::FirstLineNo);
        steps.extend(self.tail.iter().map(|(f, w)| Step::Field(f, *w)));
        steps
    }
}

/// What reading a type byte produced.
enum Begin {
    /// A complete object (or NULL).
    Value(Option<NodeId>),
    /// A container whose items follow.
    Frame(Frame),
}

/// What a container needs next.
enum Next {
    Child,
    Done(NodeId),
}

/// A container being read.
enum Frame {
    /// Tuple, list or set: registered before its items.
    Seq {
        id: NodeId,
        kind: &'static str,
        left: usize,
        items: Vec<NodeId>,
    },
    /// Frozenset or slice: its reference slot is filled after its items.
    Reserved {
        slot: Option<usize>,
        left: usize,
        kind: &'static str,
    },
    Dict {
        id: NodeId,
        want_key: bool,
        done: bool,
    },
    Code(Box<CodeFrame>),
}

struct CodeFrame {
    slot: Option<usize>,
    steps: Vec<Step>,
    at: usize,
    counts: Vec<(&'static str, i32)>,
    fields: Vec<(&'static str, NodeId)>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    objects: usize,
    version: (u8, u8),
    nodes: Vec<Node<'a>>,
    /// The back-reference table; `None` marks a slot reserved for an object
    /// still being read (CPython refuses references to it).
    refs: Vec<Option<NodeId>>,
    /// Python 2's table of interned strings (`t` adds, `R` refers).
    interned: Vec<NodeId>,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], version: (u8, u8)) -> Self {
        Reader {
            data,
            pos: 0,
            objects: 0,
            version,
            nodes: Vec::new(),
            refs: Vec::new(),
            interned: Vec::new(),
        }
    }

    fn py2(&self) -> bool {
        self.version.0 == 2
    }

    /// Python 2's `R`: an index into the interned strings read so far.
    fn string_ref(&mut self, start: usize) -> Result<NodeId, MarshalError> {
        let index = i64::from(self.long()?);
        let known = self.interned.len();
        usize::try_from(index)
            .ok()
            .and_then(|i| self.interned.get(i).copied())
            .ok_or(MarshalError::InvalidReference {
                index,
                offset: start,
                known,
            })
    }

    fn node(&self, id: NodeId) -> &Node<'a> {
        self.nodes.get(id).unwrap_or(&Node::Pending)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MarshalError> {
        let available = self.data.len() - self.pos;
        if n > available {
            return Err(MarshalError::Truncated {
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?[0])
    }

    fn long(&mut self) -> Result<i32, MarshalError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A 32-bit size field, checked against `SIZE32_MAX` like CPython.
    fn size(&mut self, what: &'static str) -> Result<usize, MarshalError> {
        let offset = self.pos;
        let n = i64::from(self.long()?);
        if !(0..=SIZE32_MAX).contains(&n) {
            return Err(MarshalError::SizeOutOfRange {
                what,
                size: n,
                offset,
            });
        }
        Ok(n as usize)
    }

    fn push(&mut self, node: Node<'a>) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Adds `id` to the reference table when the type byte had `FLAG_REF`.
    fn register(&mut self, flag: bool, id: NodeId) {
        if flag {
            self.refs.push(Some(id));
        }
    }

    fn reserve(&mut self, flag: bool) -> Option<usize> {
        flag.then(|| {
            self.refs.push(None);
            self.refs.len() - 1
        })
    }

    fn fill(&mut self, slot: Option<usize>, id: NodeId) {
        if let Some(s) = slot.and_then(|s| self.refs.get_mut(s)) {
            *s = Some(id);
        }
    }

    /// Reads one object; `Ok(None)` is marshal's NULL (`'0'`).
    ///
    /// Containers are read with an explicit stack of [`Frame`]s rather than
    /// recursion, so that the depth cap, not the thread's stack, bounds nesting.
    fn object(&mut self) -> Result<Option<NodeId>, MarshalError> {
        let mut stack: Vec<Frame> = Vec::new();
        'read: loop {
            if stack.len() >= MARSHAL_MAX_DEPTH {
                return Err(MarshalError::TooDeep {
                    max: MARSHAL_MAX_DEPTH,
                });
            }
            let mut finished = match self.begin()? {
                Begin::Value(v) => v,
                Begin::Frame(mut frame) => match self.advance(&mut frame)? {
                    Next::Child => {
                        stack.push(frame);
                        continue 'read;
                    }
                    Next::Done(id) => Some(id),
                },
            };
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(finished);
                };
                self.feed(top, finished)?;
                match self.advance(top)? {
                    Next::Child => continue 'read,
                    Next::Done(id) => {
                        stack.pop();
                        finished = Some(id);
                    }
                }
            }
        }
    }

    /// Reads a type byte and either the whole object (scalars, strings,
    /// references) or the head of a container, whose items come next.
    fn begin(&mut self) -> Result<Begin, MarshalError> {
        let start = self.pos;
        let code = self.byte()?;
        self.objects += 1;
        if self.objects > MARSHAL_MAX_OBJECTS {
            return Err(MarshalError::TooManyObjects {
                max: MARSHAL_MAX_OBJECTS,
            });
        }
        let (ty, flag) = if self.py2() {
            (code, false)
        } else {
            (code & !FLAG_REF, code & FLAG_REF != 0)
        };
        if self.py2() && PY3_ONLY_TYPES.contains(&ty) {
            return Err(MarshalError::UnknownType {
                code: ty,
                offset: start,
            });
        }
        if let Some(v) = self.scalar(ty, flag)? {
            return Ok(Begin::Value(v));
        }
        let frame = match ty {
            b')' => {
                let n = usize::from(self.byte()?);
                self.sequence(flag, n, "tuple")
            }
            b'(' => {
                let n = self.size("tuple")?;
                self.sequence(flag, n, "tuple")
            }
            b'[' => {
                let n = self.size("list")?;
                self.sequence(flag, n, "list")
            }
            b'<' => {
                let n = self.size("set")?;
                self.sequence(flag, n, "set")
            }
            b'>' => {
                let n = self.size("set")?;
                if n == 0 {
                    return Ok(Begin::Value(Some(
                        self.leaf(flag, Node::Other("frozenset")),
                    )));
                }
                Frame::Reserved {
                    slot: self.reserve(flag),
                    left: n,
                    kind: "frozenset",
                }
            }
            b':' if self.version >= SLICE_SINCE => Frame::Reserved {
                slot: self.reserve(flag),
                left: 3,
                kind: "slice",
            },
            b'{' => Frame::Dict {
                id: self.leaf(flag, Node::Pending),
                want_key: true,
                done: false,
            },
            b'c' => Frame::Code(Box::new(CodeFrame {
                slot: self.reserve(flag),
                steps: CodeLayout::for_version(self.version)?.steps(),
                at: 0,
                counts: Vec::new(),
                fields: Vec::new(),
            })),
            _ => {
                return Err(MarshalError::UnknownType {
                    code: ty,
                    offset: start,
                })
            }
        };
        Ok(Begin::Frame(frame))
    }

    /// Objects without children. `Ok(None)` when `ty` is a container.
    fn scalar(&mut self, ty: u8, flag: bool) -> Result<Option<Option<NodeId>>, MarshalError> {
        let start = self.pos - 1;
        let name = match ty {
            b'0' => return Ok(Some(None)),
            // Singletons are never entered in the reference table.
            b'N' | b'F' | b'T' | b'S' | b'.' => {
                return Ok(Some(Some(self.push(Node::Other(singleton_name(ty))))))
            }
            b'i' => self.long().map(|_| "int")?,
            b'I' => self.take(8).map(|_| "int")?,
            b'l' => self.long_digits().map(|_| "int")?,
            b'f' => self.float_text().map(|_| "float")?,
            b'g' => self.take(8).map(|_| "float")?,
            b'x' => self
                .float_text()
                .and_then(|_| self.float_text())
                .map(|_| "complex")?,
            b'y' => self.take(16).map(|_| "complex")?,
            b's' | b't' if self.py2() => {
                let n = self.size("string")?;
                let raw = self.take(n)?;
                let id = self.push(Node::Py2Str(raw));
                if ty == b't' {
                    self.interned.push(id);
                }
                return Ok(Some(Some(id)));
            }
            b'R' if self.py2() => return self.string_ref(start).map(|id| Some(Some(id))),
            b's' => {
                let n = self.size("bytes")?;
                let raw = self.take(n)?;
                return Ok(Some(Some(self.leaf(flag, Node::Bytes(raw)))));
            }
            b'a' | b'A' => {
                let n = self.size("string")?;
                return self.latin1(flag, n).map(|id| Some(Some(id)));
            }
            b'z' | b'Z' => {
                let n = usize::from(self.byte()?);
                return self.latin1(flag, n).map(|id| Some(Some(id)));
            }
            b'u' | b't' => return self.unicode(flag).map(|id| Some(Some(id))),
            b'r' => return self.reference(start).map(|id| Some(Some(id))),
            _ => return Ok(None),
        };
        Ok(Some(Some(self.leaf(flag, Node::Other(name)))))
    }

    fn leaf(&mut self, flag: bool, node: Node<'a>) -> NodeId {
        let id = self.push(node);
        self.register(flag, id);
        id
    }

    fn latin1(&mut self, flag: bool, n: usize) -> Result<NodeId, MarshalError> {
        let raw = self.take(n)?;
        Ok(self.leaf(flag, Node::Str { raw, latin1: true }))
    }

    fn unicode(&mut self, flag: bool) -> Result<NodeId, MarshalError> {
        let n = self.size("string")?;
        let offset = self.pos;
        let raw = self.take(n)?;
        if decode_surrogatepass(raw).is_none() {
            return Err(MarshalError::InvalidUtf8 { offset });
        }
        Ok(self.leaf(flag, Node::Str { raw, latin1: false }))
    }

    fn reference(&mut self, start: usize) -> Result<NodeId, MarshalError> {
        let index = i64::from(self.long()?);
        let known = self.refs.len();
        usize::try_from(index)
            .ok()
            .and_then(|i| self.refs.get(i).copied().flatten())
            .ok_or(MarshalError::InvalidReference {
                index,
                offset: start,
                known,
            })
    }

    /// A long in 15-bit digits; CPython refuses digits above 0x7FFF and a zero top digit.
    fn long_digits(&mut self) -> Result<(), MarshalError> {
        let offset = self.pos;
        let n = i64::from(self.long()?);
        if n == 0 {
            return Ok(());
        }
        if !(-SIZE32_MAX..=SIZE32_MAX).contains(&n) {
            return Err(MarshalError::SizeOutOfRange {
                what: "long",
                size: n,
                offset,
            });
        }
        let count = n.unsigned_abs() as usize;
        let digits = self.take(count.saturating_mul(2))?;
        let mut last = 0;
        for (i, d) in digits.chunks_exact(2).enumerate() {
            let digit = u16::from_le_bytes([d[0], d[1]]);
            if digit > LONG_DIGIT_MAX {
                return Err(MarshalError::LongDigit {
                    digit,
                    offset: offset + 4 + 2 * i,
                });
            }
            last = digit;
        }
        if last == 0 {
            return Err(MarshalError::UnnormalizedLong { offset });
        }
        Ok(())
    }

    /// marshal version 1's text floats (never written by Python 3, still read).
    fn float_text(&mut self) -> Result<(), MarshalError> {
        let n = usize::from(self.byte()?);
        let offset = self.pos;
        let raw = self.take(n)?;
        let text = String::from_utf8_lossy(raw);
        if text.trim().parse::<f64>().is_err() {
            return Err(MarshalError::BadFloat {
                text: text.into_owned(),
                offset,
            });
        }
        Ok(())
    }

    /// Tuples, lists and sets are entered in the reference table before their items.
    fn sequence(&mut self, flag: bool, n: usize, kind: &'static str) -> Frame {
        let id = self.leaf(flag, Node::Pending);
        // Every item takes at least one byte, so the bytes left bound the capacity.
        let items = Vec::with_capacity(n.min(self.data.len() - self.pos));
        Frame::Seq {
            id,
            kind,
            left: n,
            items,
        }
    }

    /// Moves a frame on: reads the plain integers a code object has between
    /// its objects, and finishes the frame when nothing is left to read.
    fn advance(&mut self, frame: &mut Frame) -> Result<Next, MarshalError> {
        match frame {
            Frame::Seq {
                id,
                kind,
                left: 0,
                items,
            } => {
                let node = if *kind == "tuple" {
                    Node::Tuple(std::mem::take(items))
                } else {
                    Node::Other(kind)
                };
                self.nodes[*id] = node;
                Ok(Next::Done(*id))
            }
            Frame::Dict { id, done: true, .. } => {
                self.nodes[*id] = Node::Other("dict");
                Ok(Next::Done(*id))
            }
            Frame::Reserved {
                slot,
                left: 0,
                kind,
            } => {
                let id = self.push(Node::Other(kind));
                self.fill(*slot, id);
                Ok(Next::Done(id))
            }
            Frame::Code(c) => self.advance_code(c),
            _ => Ok(Next::Child),
        }
    }

    /// Stores a finished child in its container.
    fn feed(&mut self, frame: &mut Frame, child: Option<NodeId>) -> Result<(), MarshalError> {
        let offset = self.pos;
        match frame {
            Frame::Seq {
                kind, left, items, ..
            } => {
                items.push(child.ok_or(MarshalError::NullObject {
                    context: kind,
                    offset,
                })?);
                *left -= 1;
            }
            Frame::Reserved { kind, left, .. } => {
                child.ok_or(MarshalError::NullObject {
                    context: kind,
                    offset,
                })?;
                *left -= 1;
            }
            // A NULL key ends a dict; so, silently, does a NULL value.
            Frame::Dict { want_key, done, .. } => {
                *done = child.is_none();
                *want_key = !*want_key;
            }
            Frame::Code(c) => {
                let Some(Step::Field(field, want)) = c.steps.get(c.at).copied() else {
                    return Ok(());
                };
                let id = child.ok_or(MarshalError::NullObject {
                    context: field,
                    offset,
                })?;
                self.check_field(field, want, id)?;
                c.fields.push((field, id));
                c.at += 1;
            }
        }
        Ok(())
    }

    fn advance_code(&mut self, c: &mut CodeFrame) -> Result<Next, MarshalError> {
        while let Some(step) = c.steps.get(c.at).copied() {
            match step {
                Step::Count(name) => c.counts.push((name, self.long()?)),
                Step::FirstLineNo => {
                    self.long()?;
                }
                Step::Field(..) => return Ok(Next::Child),
            }
            c.at += 1;
        }
        check_counts(&c.counts)?;
        let get = |name: &str| c.fields.iter().find(|(f, _)| *f == name).map(|(_, id)| *id);
        let (Some(code), Some(consts), Some(names), Some(filename)) = (
            get("co_code"),
            get("co_consts"),
            get("co_names"),
            get("co_filename"),
        ) else {
            return Err(MarshalError::UnsupportedVersion {
                major: self.version.0,
                minor: self.version.1,
            });
        };
        if let (Some(lpn), Some(lpk)) = (get("co_localsplusnames"), get("co_localspluskinds")) {
            self.check_localsplus(code, lpn, lpk)?;
        }
        let id = self.push(Node::Code(Box::new(Code {
            code,
            consts,
            names,
            filename,
        })));
        self.fill(c.slot, id);
        Ok(Next::Done(id))
    }

    /// Checks a code object field's type as CPython's code constructor does.
    /// `co_consts` need only be a tuple; name tuples must hold only str.
    fn check_field(&self, field: &'static str, want: Want, id: NodeId) -> Result<(), MarshalError> {
        let node = self.node(id);
        let ok = match (want, node) {
            (Want::Bytes | Want::Str, Node::Py2Str(_)) | (Want::Tuple, Node::Tuple(_)) => true,
            (Want::Bytes, Node::Bytes(_)) | (Want::Str, Node::Str { .. }) => !self.py2(),
            (Want::TupleOfStr, Node::Tuple(items)) => items.iter().all(|&i| self.is_name(i)),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(MarshalError::CodeField {
                field,
                expected: want.name(),
                found: node.type_name(),
            })
        }
    }

    fn check_localsplus(
        &self,
        code: NodeId,
        names: NodeId,
        kinds: NodeId,
    ) -> Result<(), MarshalError> {
        if let Node::Bytes(b) = self.node(code) {
            if b.len() % CODE_UNIT != 0 {
                return Err(MarshalError::OddCode { len: b.len() });
            }
        }
        if let (Node::Tuple(n), Node::Bytes(k)) = (self.node(names), self.node(kinds)) {
            if n.len() != k.len() {
                return Err(MarshalError::LocalsPlusMismatch {
                    names: n.len(),
                    kinds: k.len(),
                });
            }
        }
        Ok(())
    }

    fn str_of(&self, id: NodeId) -> Option<Vec<u8>> {
        match self.node(id) {
            Node::Py2Str(raw) => Some(raw.to_vec()),
            Node::Str { raw, latin1: false } => Some(raw.to_vec()),
            // Latin-1 text re-encoded as UTF-8, so every string decodes one way.
            Node::Str { raw, latin1: true } => Some(
                raw.iter()
                    .map(|&b| char::from(b))
                    .collect::<String>()
                    .into_bytes(),
            ),
            _ => None,
        }
    }

    /// A `str` constant (Python 2: `str` or `unicode`).
    fn is_str(&self, id: NodeId) -> bool {
        matches!(self.node(id), Node::Str { .. } | Node::Py2Str(_))
    }

    /// What a code object's name tuples must hold: `str` (Python 2: bytes `str`).
    fn is_name(&self, id: NodeId) -> bool {
        match self.node(id) {
            Node::Py2Str(_) => true,
            Node::Str { .. } => !self.py2(),
            _ => false,
        }
    }

    fn tuple_item(&self, tuple: NodeId, index: usize) -> Option<NodeId> {
        match self.node(tuple) {
            Node::Tuple(items) => items.get(index).copied(),
            _ => None,
        }
    }

    /// Whether the module body starts with `__doc__ = <str constant>`, as the
    /// compiler emits for a docstring (after `RESUME`/`SETUP_ANNOTATIONS`).
    /// Without opcode numbers for the version: `consts[0]` is a str and
    /// `__doc__` is among the names.
    fn has_docstring(&self, code: &Code, ops: Option<DocOps>) -> bool {
        let Some(ops) = ops else {
            let names_doc = match self.node(code.names) {
                Node::Tuple(items) => items
                    .iter()
                    .any(|&i| self.str_of(i).as_deref() == Some(DOC_NAME)),
                _ => false,
            };
            return names_doc
                && self
                    .tuple_item(code.consts, 0)
                    .is_some_and(|c| self.is_str(c));
        };
        let (Node::Bytes(bytecode) | Node::Py2Str(bytecode)) = self.node(code.code) else {
            return false;
        };
        let mut ins = if self.py2() {
            instructions_py2(bytecode, ops)
        } else {
            instructions(bytecode, ops).take(2).collect()
        }
        .into_iter();
        let (Some((op1, konst)), Some((op2, name))) = (ins.next(), ins.next()) else {
            return false;
        };
        op1 == ops.load_const
            && op2 == ops.store_name
            && self
                .tuple_item(code.consts, konst)
                .is_some_and(|c| self.is_str(c))
            && self
                .tuple_item(code.names, name)
                .and_then(|n| self.str_of(n))
                .as_deref()
                == Some(DOC_NAME)
    }
}

/// The first instructions of `bytecode` as (opcode, full oparg), skipping
/// the prologue ops that may precede a docstring and folding `EXTENDED_ARG`.
/// [`instructions`] for Python 2's variable-length bytecode: the first two.
fn instructions_py2(bytecode: &[u8], ops: DocOps) -> Vec<(u8, usize)> {
    let (mut at, mut ext, mut out) = (0, 0usize, Vec::new());
    while let (Some(&op), true) = (
        bytecode.get(at),
        out.len() < 2 && at < DOCSTRING_SCAN_UNITS * 3,
    ) {
        let arg = if op >= PY2_HAVE_ARGUMENT {
            let lo = bytecode.get(at + 1).copied().unwrap_or(0);
            let hi = bytecode.get(at + 2).copied().unwrap_or(0);
            at += 3;
            (ext << 16) | usize::from(u16::from_le_bytes([lo, hi]))
        } else {
            at += 1;
            0
        };
        if op == ops.extended_arg {
            ext = arg;
            continue;
        }
        ext = 0;
        if !ops.prologue.contains(&op) {
            out.push((op, arg));
        }
    }
    out
}

fn instructions(bytecode: &[u8], ops: DocOps) -> impl Iterator<Item = (u8, usize)> + '_ {
    let mut ext: usize = 0;
    bytecode
        .chunks_exact(CODE_UNIT)
        .take(DOCSTRING_SCAN_UNITS)
        .filter_map(move |unit| {
            let (op, arg) = (unit[0], usize::from(unit[1]));
            if op == ops.extended_arg {
                ext = (ext << 8) | arg;
                return None;
            }
            let full = (ext << 8) | arg;
            ext = 0;
            let skip = ops.prologue.contains(&op);
            (!skip).then_some((op, full))
        })
}

fn singleton_name(ty: u8) -> &'static str {
    match ty {
        b'N' => "NoneType",
        b'F' | b'T' => "bool",
        b'S' => "StopIteration",
        _ => "ellipsis",
    }
}

fn check_counts(counts: &[(&'static str, i32)]) -> Result<(), MarshalError> {
    let get = |name| counts.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    for &(field, value) in counts {
        if value < 0 && field != "co_flags" {
            return Err(MarshalError::CodeCount { field, value });
        }
    }
    if let (Some(args), Some(posonly)) = (get("co_argcount"), get("co_posonlyargcount")) {
        if args < posonly {
            return Err(MarshalError::CodeCount {
                field: "co_posonlyargcount",
                value: posonly,
            });
        }
    }
    Ok(())
}

/// Decodes UTF-8 the way CPython's `surrogatepass` handler does: standard
/// UTF-8, except that encoded surrogates (U+D800–U+DFFF) are allowed.
/// Returns the code points, or `None` when the bytes are not such UTF-8.
pub fn decode_surrogatepass(bytes: &[u8]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b0) = bytes.get(i) {
        let (len, min, init) = match b0 {
            0x00..=0x7F => (1, 0, u32::from(b0)),
            0xC2..=0xDF => (2, 0x80, u32::from(b0 & 0x1F)),
            0xE0..=0xEF => (3, 0x800, u32::from(b0 & 0x0F)),
            0xF0..=0xF4 => (4, 0x1_0000, u32::from(b0 & 0x07)),
            _ => return None,
        };
        let tail = bytes.get(i + 1..i + len)?;
        let mut cp = init;
        for &b in tail {
            if b & 0xC0 != 0x80 {
                return None;
            }
            cp = (cp << 6) | u32::from(b & 0x3F);
        }
        if cp < min || cp > 0x10_FFFF {
            return None;
        }
        out.push(cp);
        i += len;
    }
    Some(out)
}

/// `os.fsencode` with UTF-8 and `surrogateescape`: U+DC80–U+DCFF stand for
/// the undecodable bytes 0x80–0xFF; any other surrogate cannot be encoded.
fn fsencode(points: &[u32]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(points.len());
    for &p in points {
        match p {
            0xDC80..=0xDCFF => out.push((p - 0xDC00) as u8),
            0xD800..=0xDFFF => return None,
            _ => {
                let c = char::from_u32(p)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogatepass_decoding() {
        assert_eq!(
            decode_surrogatepass("aé€😀".as_bytes()).unwrap(),
            [0x61, 0xE9, 0x20AC, 0x1F600]
        );
        // An encoded lone surrogate (U+DCFF) is accepted, as CPython does.
        assert_eq!(decode_surrogatepass(b"\xed\xb3\xbf").unwrap(), [0xDCFF]);
        for bad in [
            &b"\xc0\x80"[..],
            b"\xe0\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\x80",
            b"\xe2\x82",
            b"\xf4\x90\x80\x80",
        ] {
            assert!(decode_surrogatepass(bad).is_none(), "{bad:?}");
        }
        assert_eq!(fsencode(&[0x2F, 0xDCFF]).unwrap(), b"/\xff");
        assert_eq!(fsencode(&[0xD800]), None);
    }

    #[test]
    fn rejects_non_code_and_garbage() {
        assert!(matches!(
            read_code_facts(b"N", (3, 11)),
            Err(MarshalError::NotCode { found: "NoneType" })
        ));
        assert!(matches!(
            read_code_facts(b"0", (3, 11)),
            Err(MarshalError::NullObject { .. })
        ));
        assert!(matches!(
            read_code_facts(b"", (3, 11)),
            Err(MarshalError::Truncated { .. })
        ));
        assert!(matches!(
            read_code_facts(b"Q", (3, 11)),
            Err(MarshalError::UnknownType { code: b'Q', .. })
        ));
        assert!(matches!(
            read_code_facts(b":NNN", (3, 13)),
            Err(MarshalError::UnknownType { code: b':', .. })
        ));
        assert!(matches!(
            read_code_facts(b":NNN", (3, 14)),
            Err(MarshalError::NotCode { found: "slice" })
        ));
        assert!(matches!(
            read_code_facts(b"c", (3, 5)),
            Err(MarshalError::UnsupportedVersion { .. })
        ));
    }

    #[test]
    fn references() {
        // A tuple holding a reference to a string registered before it.
        let ok = b"(\x02\x00\x00\x00\xfa\x01xr\x00\x00\x00\x00";
        assert!(matches!(
            read_code_facts(ok, (3, 11)),
            Err(MarshalError::NotCode { found: "tuple" })
        ));
        let bad = b"(\x01\x00\x00\x00r\x05\x00\x00\x00";
        assert!(matches!(
            read_code_facts(bad, (3, 11)),
            Err(MarshalError::InvalidReference {
                index: 5,
                known: 0,
                ..
            })
        ));
        // A reference to a frozenset still being read is refused, as in CPython.
        let pending = b"\xbe\x01\x00\x00\x00r\x00\x00\x00\x00";
        assert!(matches!(
            read_code_facts(pending, (3, 11)),
            Err(MarshalError::InvalidReference { index: 0, .. })
        ));
    }

    #[test]
    fn longs() {
        assert!(matches!(
            read_code_facts(b"l\x01\x00\x00\x00\x05\x00", (3, 11)),
            Err(MarshalError::NotCode { found: "int" })
        ));
        assert!(matches!(
            read_code_facts(b"l\x01\x00\x00\x00\x00\x00", (3, 11)),
            Err(MarshalError::UnnormalizedLong { .. })
        ));
        assert!(matches!(
            read_code_facts(b"l\x01\x00\x00\x00\x00\x80", (3, 11)),
            Err(MarshalError::LongDigit { digit: 0x8000, .. })
        ));
        assert!(matches!(
            read_code_facts(b"l\xff\xff\xff\x7f", (3, 11)),
            Err(MarshalError::Truncated {
                needed: 0xFFFF_FFFE,
                ..
            })
        ));
        assert!(matches!(
            read_code_facts(b"l\x00\x00\x00\x80", (3, 11)),
            Err(MarshalError::SizeOutOfRange { .. })
        ));
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        // A tuple claiming 2^31-1 items in a 5-byte stream fails on the first item.
        assert!(matches!(
            read_code_facts(b"(\xff\xff\xff\x7f", (3, 11)),
            Err(MarshalError::Truncated { .. })
        ));
        assert!(matches!(
            read_code_facts(b"s\xff\xff\xff\x7f", (3, 11)),
            Err(MarshalError::Truncated { .. })
        ));
        assert!(matches!(
            read_code_facts(b"s\xff\xff\xff\xff", (3, 11)),
            Err(MarshalError::SizeOutOfRange { .. })
        ));
    }

    #[test]
    fn depth_is_capped() {
        let deep = [b')', 1].repeat(MARSHAL_MAX_DEPTH + 5);
        let e = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || read_code_facts(&deep, (3, 12)).unwrap_err().to_string())
            .unwrap()
            .join()
            .unwrap();
        assert!(e.contains("deeper than 2000"), "{e}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x2545_F491_4F6C_DD1D);
        let alphabet = b"0NFTS.iIlfgxysaAzZut)([<>{cr:\x80\xe3\xfa\xa9\x01\x00\x02\xff";
        for round in 0..30_000 {
            let buf = rng.bytes_from(alphabet, round % 64);
            for v in [(3, 6), (3, 8), (3, 11), (3, 13), (3, 14)] {
                let _ = read_code_facts(&buf, v);
            }
        }
    }
}
