/**
 * The one place `@peculiar/x509` is loaded: it needs a Reflect metadata polyfill before its first import (its
 * dependency injection container, tsyringe, throws without one) and a WebCrypto provider. Every other file in
 * `src/mitm` imports `x509` from here, so that order can never be got wrong.
 */

// Must stay the first import: ES modules evaluate imports in order, and tsyringe checks for the polyfill on load.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's own WebCrypto: native (OpenSSL) key generation and signing, no pure-JS crypto on the handshake path.
x509.cryptoProvider.set(webcrypto);

export { x509 };

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export const subtle = webcrypto.subtle;
