/**
 * The one "where does the next layer start" slot shared by the link-layer
 * decoders.
 *
 * Zeek's analyzers return the rest of the bytes as (len, data); a JS function
 * cannot return two numbers without allocating an array or object per call.
 * The link decoders (Ethernet, VLAN, MPLS, PPPoE, PPP, ERSPAN) therefore
 * return the next protocol number (an EtherType, or -1 to stop) and leave the
 * offset of the next header here. It is a module singleton (one hidden class,
 * one field), so writing it is a plain store: nothing is allocated.
 * `end` is set by the dispatch loop before each call; a decoder that learns
 * the real end of its payload (PPPoE's LENGTH) may lower it to trim padding.
 * Decoding is synchronous and single-threaded, so the slot is always read
 * immediately after the call that set it.
 */
export const cursor = { off: 0, end: 0 };

/** Returned by a layer decoder when nothing further should be decoded. */
export const STOP = -1;
