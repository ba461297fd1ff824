// The package's drop-in worker (/sw.js) as Safari on an iPhone reports itself (the worker reads
// the user agent at each push), with the tests' record of settled handlers.
import './handlers-settled.js';
import './sw.js';

Object.defineProperty(self.navigator, 'userAgent', {
  value: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
});
