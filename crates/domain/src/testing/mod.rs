//! Contract test suites (filled in by the fs-store work).
