require("fs").writeFileSync(__dirname + "/../generated.js", "module.exports = \"generated\"\n")
