// Node: the args object as JSON in the last argument; prints a greeting as JSON.
const args = JSON.parse(process.argv[process.argv.length - 1]);
console.log(JSON.stringify({ greeting: `hello ${args.name}`, runtime: "node" }));
