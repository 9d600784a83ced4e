console.log(require("./generated.js"))
