// Item-token variant of datasets/lastfm for bench/recipe/copy-levers.js: the shipped BPE tokenizer plus one added token
// per artist name (" " + name, whole words only), and train/valid re-tokenized with it. Usage: node bench/recipe/item-token-data.js OUTDIR
const root=process.env.SDPO_DIST||require("path").resolve(__dirname,"../../dist/src");
const {readFileSync,writeFileSync}=require("fs");
const {itemVocabulary,llaraRecords,parseLlaraJson,parseTemplates,responseText,writeLlaraArrow}=require(root+"/data/convert.js");
const {LASTFM,splitRows}=require(root+"/data/lastfm_build.js");
const {Tokenizer}=require(root+"/data/tokenizer.js");
(async()=>{
  const dir=require("path").resolve(__dirname,"../../datasets/lastfm"), out=process.argv[2];
  const rows=parseLlaraJson(readFileSync(dir+"/lastfm-val.json","utf8"),"raw");
  const templates=parseTemplates(readFileSync(dir+"/prompt-music.txt","utf8"),"t");
  const items=itemVocabulary(rows);
  const split=splitRows(rows.length,LASTFM.seed,LASTFM.validRows);
  const t=JSON.parse(readFileSync(dir+"/tokenizer.json","utf8"));
  let id=t.added_tokens.reduce((m,a)=>Math.max(m,a.id),0)+1;
  for(const it of items){ if(!it.trim()) continue; t.added_tokens.push({id:id++,content:" "+it.trim(),single_word:true,lstrip:false,rstrip:false,normalized:false,special:false}); }
  const json=JSON.stringify(t);
  writeFileSync(out+"/tokenizer.json",json);
  const tokenizer=Tokenizer.fromString(json,out+"/tokenizer.json");
  console.log("vocab",tokenizer.vocabSize);
  const common={templates,seed:LASTFM.seed,items,tokenizer,negatives:LASTFM.negatives};
  for(const [name,idx] of [["train",split.train],["valid",split.valid]]){
    await writeLlaraArrow(idx.map(i=>rows[i]),{...common,output:`${out}/${name}.arrow`,source:{dataset:"lastfm",split:name,file:"raw",splitSeed:LASTFM.seed,firstRows:idx.slice(0,3)}});
  }
})().catch(e=>{console.error(e);process.exit(1)});
