//! C exports of the configuration API.
