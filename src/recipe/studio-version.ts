/** The studio's version, as recipe.json records it: package.json's "version" (tests/recipe.test.ts keeps them equal). */
export const STUDIO_VERSION = '0.1.0';
