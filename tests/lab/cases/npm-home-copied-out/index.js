const isNumber = require('is-number');
if (!isNumber(7)) process.exit(1);
console.log('ok');
