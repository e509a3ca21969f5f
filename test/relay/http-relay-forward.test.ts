/** The relay's HTTP/1.1 behaviour table (test/helpers/relay-suite.ts), run over the forward route. */
import { relaySuite } from '../helpers/relay-suite.js';

relaySuite('forward');
