FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY server ./server
COPY db ./db
COPY client-sdk ./client-sdk
ENV NODE_ENV=production PORT=3000
EXPOSE 3000
USER node
# V8's helper threads (GC, compilation) default to 4; on a small host they take CPU from the event loop
# (decision 007). Set V8_POOL_SIZE to the container's cores minus one.
CMD ["sh", "-c", "exec node --v8-pool-size=${V8_POOL_SIZE:-1} --import tsx server/main.ts"]
