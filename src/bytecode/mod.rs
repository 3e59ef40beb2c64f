//! CPython bytecode rules (STUB).
