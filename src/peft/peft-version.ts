/** The PEFT release whose adapter format this project writes (and whose version the files name). */
export const PEFT_VERSION = '0.21.0';
