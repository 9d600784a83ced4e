console.log(require("lib").greeting)
