export * from "./selector.js";
