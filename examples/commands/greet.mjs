// greet: the args object as JSON in the last argument; prints the greeting as JSON.
const args = JSON.parse(process.argv.at(-1));
console.log(JSON.stringify(`${process.env.GREETING}, ${args.name} (task ${process.env.DOSHIT_TASK_ID})`));
