module.exports = { greeting: "hello from lib" }
