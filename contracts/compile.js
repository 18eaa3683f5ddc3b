// Compiles IPAuthorizationChain.sol with the pinned npm `solc` (its compiler ships inside the
// package: nothing is downloaded) and prints the artifact JSON on stdout, or writes it to the
// paths given as arguments. `make contracts` writes the committed artifacts; a test compares.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const NAME = "IPAuthorizationChain";
const source = fs.readFileSync(path.join(__dirname, `${NAME}.sol`), "utf8");
const input = {
  language: "Solidity",
  sources: { [`${NAME}.sol`]: { content: source } },
  settings: {
    evmVersion: "prague",
    optimizer: { enabled: true, runs: 200 },
    // No metadata hash: the bytecode then depends on the source and settings only.
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) process.stderr.write(e.formattedMessage + "\n");
  process.exit(1);
}
const contract = output.contracts[`${NAME}.sol`][NAME];
const artifact = {
  contractName: NAME,
  solcVersion: solc.version(),
  evmVersion: input.settings.evmVersion,
  optimizer: input.settings.optimizer,
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
  deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
};
const text = JSON.stringify(artifact, null, 2) + "\n";
const targets = process.argv.slice(2);
if (targets.length === 0) process.stdout.write(text);
for (const target of targets) fs.writeFileSync(target, text);
