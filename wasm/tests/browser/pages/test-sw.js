// The package's drop-in worker (/sw.js), with the tests' record of settled handlers.
import './handlers-settled.js';
import './sw.js';
