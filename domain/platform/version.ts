/** Babble's version, printed by `babble --version`; bump it with each release. */
export const VERSION = "0.9.0";
