// Only for `npx hardhat node`, the local JSON-RPC node of the tests and of a local setup:
// the contract is compiled by compile.js (npm solc), not by hardhat (which downloads solc).
module.exports = {
  networks: {
    hardhat: { chainId: 31337, hardfork: "prague" },
  },
};
